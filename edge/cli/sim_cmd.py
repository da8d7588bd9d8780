"""`carec-edge sim run SCENARIO`: start the scenario's emulators on real ptys, print where
they are (one JSON line per device), play the events, and with `--hold` keep the ports open
until interrupted. `--wait` and pause events wait for a line on stdin (Enter, or a test
that has seen the drivers connect).

`carec-edge sim plates --country MN --count 200 --seed 1 --out DIR`: write synthetic truck
scenes with their plates in the ALPR benchmark format (`NAME.jpg` and `NAME.txt`)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from drivers.sim.scenario import ScenarioError, ScenarioRun, SimEvent, load_scenario
from edge.cli.context import CliContext


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("sim", help="device emulators")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run a scenario file")
    run.add_argument("scenario", type=Path)
    run.add_argument("--dir", type=Path, help="where the port links go (default: a temp dir)")
    run.add_argument("--hold", action="store_true", help="keep the ports open after the events")
    run.add_argument(
        "--wait", action="store_true", help="start the events when a line arrives on stdin"
    )
    run.set_defaults(handler=run_command)
    plates = actions.add_parser("plates", help="write a synthetic plate dataset")
    plates.add_argument(
        "--country", required=True, help="ISO alpha-2, e.g. KZ, MN, CN, or a visitor: TR, DE"
    )
    plates.add_argument("--count", type=int, default=100, help="how many scenes (default 100)")
    plates.add_argument("--seed", type=int, default=0, help="the same seed writes the same set")
    plates.add_argument("--out", type=Path, required=True, help="the directory to write into")
    plates.add_argument(
        "--size", default="1280x720", help="frame size WIDTHxHEIGHT (default 1280x720)"
    )
    plates.set_defaults(handler=plates_command)


def run_command(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as error:
        print(f"carec-edge: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="carec-sim-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        run = ScenarioRun(scenario, directory)
        stopped = threading.Event()

        def stop(*_: object) -> None:
            stopped.set()
            run.stop()
            raise SystemExit(0)  # out of a blocking stdin read too; `finally` closes the ports

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop)
        try:
            for device in scenario.device:
                line = {"device": device.id, "kind": device.kind, "port": run.source(device.id)}
                if device.id in run.ports:
                    line["pty"] = run.ports[device.id].device
                print(json.dumps(line), flush=True)

            def on_event(event: SimEvent) -> None:
                print(json.dumps({"event": event.model_dump(exclude_none=True)}), flush=True)

            if args.wait:
                sys.stdin.readline()  # the drivers are connected: start the clock

            def resume() -> None:
                sys.stdin.readline()

            run.play(on_event, resume=resume)
            if args.hold:
                stopped.wait()
        finally:
            run.close()
    return 0


def plates_command(args: argparse.Namespace, _context: CliContext) -> int:
    from drivers.sim.plates import write_dataset  # OpenCV and fonts: only when asked for

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(
            f"carec-edge: --size {args.size!r}: want WIDTHxHEIGHT, e.g. 1280x720", file=sys.stderr
        )
        return 2
    if args.count < 1:
        print(f"carec-edge: --count {args.count}: want at least 1", file=sys.stderr)
        return 2
    try:
        images = write_dataset(args.out, args.country, args.count, args.seed, size=(width, height))
    except ValueError as error:
        print(f"carec-edge: {error}", file=sys.stderr)
        return 2
    print(
        json.dumps({"country": args.country.upper(), "written": len(images), "out": str(args.out)})
    )
    return 0
