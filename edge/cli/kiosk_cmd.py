"""`carec-edge kiosk`: serve the officer's kiosk on its own, over the data directory's store.

    carec-edge kiosk [--host 127.0.0.1] [--port 8080] [--demo-officers]
    carec-edge kiosk officer add ID --name NAME --role officer|supervisor|technician
        [--badge CODE] [--language ru]          (reads the PIN from stdin)

Alone, the kiosk has no devices and no sync: trucks come from whatever else writes to the store
(or are opened by hand); `carec-edge run` serves the same app with everything wired in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import signal
import sys
from typing import Any

from edge.arrivals import ArrivalStore, Lanes
from edge.cli.context import CliContext
from edge.logs import setup_logging
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import OfficerError, OfficerStore, Role, seed_demo_officers


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "kiosk", help="serve the officer's kiosk (web app) over the store"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument(
        "--idle-timeout", type=float, default=10.0, metavar="MINUTES",
        help="log an officer out after this long without action (default 10)",
    )  # fmt: skip
    parser.add_argument(
        "--demo-officers",
        action="store_true",
        help="add the demo officers (demo/1234, demo-supervisor/5678, demo-technician/9012)",
    )
    parser.set_defaults(handler=serve)
    actions = parser.add_subparsers(dest="kiosk_action", metavar="ACTION")
    officer = actions.add_parser("officer", help="manage the officers who may log in")
    officer_actions = officer.add_subparsers(dest="officer_action", required=True)
    add = officer_actions.add_parser("add", help="add an officer; the PIN is read from stdin")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.OFFICER.value)
    add.add_argument("--badge")
    add.add_argument("--language", default="en")
    add.set_defaults(handler=add_officer)


def serve(args: argparse.Namespace, context: CliContext) -> int:
    import uvicorn  # only when serving

    from ui_kiosk import KioskSettings, create_app
    from ui_kiosk.store_backend import StoreBackend
    from ui_kiosk.store_watch import StoreWatcher

    config = context.config
    setup_logging(config.logging.level)
    engine = context.engine()
    officers = OfficerStore(engine)
    if args.demo_officers:
        for officer in seed_demo_officers(officers):
            print(f"added demo officer {officer.id} ({officer.role.value})", file=sys.stderr)
    lanes = Lanes(
        ArrivalStore(engine),
        Matcher(ManifestCache(engine), config.matching),
        dt.timedelta(minutes=config.lanes.idle_timeout_minutes),
    )
    lane_names = sorted(
        {str(d.get("lane") or config.lanes.default_lane) for d in config.devices}
        | {config.lanes.default_lane}
    )
    backend = StoreBackend(engine, lanes, officers=officers, lane_names=lane_names)
    settings = KioskSettings(host=args.host, port=args.port, idle_timeout_minutes=args.idle_timeout)
    watcher = StoreWatcher(engine, backend.notify_arrival_changed)  # changes by other processes
    watcher.start()
    # uvicorn stops gracefully on SIGTERM, then raises the signal again for the handler that
    # was there before it: make that one a no-op, so a clean stop exits 0 (as systemd expects).
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.run(create_app(backend, settings), host=args.host, port=args.port, log_config=None)
    finally:
        watcher.stop()
        backend.close()
    return 0


def add_officer(args: argparse.Namespace, context: CliContext) -> int:
    pin = getpass.getpass("PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    try:
        officer = OfficerStore(context.engine()).create(
            args.id, args.name, pin, Role(args.role), args.badge, args.language
        )
    except OfficerError as error:
        print(f"carec-edge kiosk officer add: {error}", file=sys.stderr)
        return 1
    print(f"added {officer.role.value} {officer.id}")
    return 0
