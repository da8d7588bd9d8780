"""`carec-edge devices watch --device KIND:PORT ...`: run drivers and print each reading as one
JSON line on stdout (health changes and rejects go to stderr, also as JSON) until interrupted.
For a camera, PORT is its source (a device, a file or a stream URL) and the readings are the
presence trigger's."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from drivers.registry import DEVICE_KINDS, DeviceConfigError, make_device, parse_devices
from edge.cli.context import CliContext
from edge.readings import Health, Reading


def _device_spec(text: str) -> tuple[str, str]:
    kind, sep, port = text.partition(":")
    if not sep or kind not in DEVICE_KINDS or not port:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected KIND:PORT with KIND one of {', '.join(DEVICE_KINDS)}"
        )
    return kind, port


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("devices", help="serial devices")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    watch = actions.add_parser("watch", help="print each reading as a JSON line")
    watch.add_argument(
        "--device", type=_device_spec, action="append", default=[], metavar="KIND:PORT"
    )
    watch.add_argument(
        "--configured", action="store_true", help="also every device of the config file"
    )
    watch.set_defaults(handler=watch_command)


def watch_command(args: argparse.Namespace, context: CliContext) -> int:
    raw = [
        {"kind": kind, "id": f"{kind}-{n}", "source" if kind == "camera" else "port": port}
        for n, (kind, port) in enumerate(args.device, start=1)
    ]
    if args.configured:
        raw += [d for d in context.config.devices if d.get("kind") in DEVICE_KINDS]
    if not raw:
        print("carec-edge: give --device KIND:PORT or --configured", file=sys.stderr)
        return 2
    try:
        configs = parse_devices(raw)
    except DeviceConfigError as error:
        print(f"carec-edge: {error}", file=sys.stderr)
        return 2
    lock = threading.Lock()

    def emit(stream: Any, data: dict[str, Any]) -> None:
        with lock:
            print(json.dumps(data, ensure_ascii=False), file=stream, flush=True)

    def on_reading(reading: Reading) -> None:
        emit(sys.stdout, reading.to_dict())

    def on_health(device_id: str, health: Health, why: str) -> None:
        emit(sys.stderr, {"device": device_id, "health": health.value, "why": why})

    def on_reject(device_id: str, reason: str) -> None:
        emit(sys.stderr, {"device": device_id, "reject": reason})

    # Rejects and health are printed here as JSON; the drivers' own log lines would only
    # interleave plain text into that stream.
    logging.disable(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    devices = [make_device(c, on_reading, on_health, on_reject) for c in configs]
    for device in devices:
        device.start()
    stop.wait()
    for device in devices:
        device.stop()
    return 0
