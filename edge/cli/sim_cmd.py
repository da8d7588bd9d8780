"""`carec-edge sim run SCENARIO`: start the scenario's emulators on real ptys, print where
they are (one JSON line per device), play the events, and with `--hold` keep the ports open
until interrupted. `--wait` and pause events wait for a line on stdin (Enter, or a test
that has seen the drivers connect)."""

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
