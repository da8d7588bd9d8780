"""`carec-edge kiosk`: serve the officer's kiosk on its own, over the data directory's store.

    carec-edge kiosk [--host 127.0.0.1] [--port 8080] [--demo-officers]
    carec-edge kiosk officer add ID --name NAME --role officer|supervisor|technician
        [--badge CODE] [--language ru]          (reads the PIN from a prompt or stdin)
    carec-edge kiosk officer list
    carec-edge kiosk officer deactivate ID      (they can no longer log in)
    carec-edge kiosk officer reset-pin ID       (reads the new PIN from a prompt or stdin)

A PIN is never taken from the command line (other users see it in `ps`, shells keep it in their
history) and never printed or logged. `--demo-officers` works only in a data directory made by
`carec-edge demo`.

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
from edge.officers import (
    OfficerError,
    OfficerStore,
    Role,
    require_demo_data_dir,
    seed_demo_officers,
)


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
        help="add the demo officers (demo/1234, demo-supervisor/5678, demo-technician/9012); "
        "only in a data directory made by `carec-edge demo`",
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
    listing = officer_actions.add_parser("list", help="every officer: id, role, badge, active")
    listing.set_defaults(handler=list_officers)
    deactivate = officer_actions.add_parser(
        "deactivate", help="an officer who may no longer log in (their decisions stay theirs)"
    )
    deactivate.add_argument("id")
    deactivate.set_defaults(handler=deactivate_officer)
    reset = officer_actions.add_parser(
        "reset-pin", help="give an officer a new PIN, read from a prompt or stdin"
    )
    reset.add_argument("id")
    reset.set_defaults(handler=reset_pin)


def serve(args: argparse.Namespace, context: CliContext) -> int:
    import uvicorn  # only when serving

    from ui_kiosk import KioskSettings, create_app
    from ui_kiosk.events import SHUTDOWN_GRACE_SECONDS
    from ui_kiosk.store_backend import StoreBackend
    from ui_kiosk.store_watch import StoreWatcher

    config = context.config
    setup_logging(config.logging.level)
    engine = context.engine()
    officers = OfficerStore(engine)
    if args.demo_officers:
        try:
            require_demo_data_dir(context.data_dir)
        except OfficerError as error:
            print(f"carec-edge kiosk --demo-officers: {error}", file=sys.stderr)
            return 2
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
        uvicorn.run(
            create_app(backend, settings), host=args.host, port=args.port, log_config=None,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,  # open pages' event streams
        )  # fmt: skip
    finally:
        watcher.stop()
        backend.close()
    return 0


# Far above a PIN (4 to 12 digits) with spaces around it; reading stops here whatever stdin is
# (a PIN piped from /dev/zero is a clear error, not a MemoryError).
MAX_PIN_LINE = 64


def read_pin(prompt: str = "PIN: ") -> str:
    """A PIN from the terminal (not echoed) or, piped, the first line of stdin (OfficerError
    when that line is longer than MAX_PIN_LINE characters)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    line = sys.stdin.readline(MAX_PIN_LINE + 1)
    if len(line.rstrip("\r\n")) > MAX_PIN_LINE:
        raise OfficerError(f"pin: stdin: the first line is over {MAX_PIN_LINE} characters")
    return line.strip()


def add_officer(args: argparse.Namespace, context: CliContext) -> int:
    try:
        officer = OfficerStore(context.engine()).create(
            args.id, args.name, read_pin(), Role(args.role), args.badge, args.language
        )
    except OfficerError as error:
        print(f"carec-edge kiosk officer add: {error}", file=sys.stderr)
        return 1
    print(f"added {officer.role.value} {officer.id}")
    return 0


def list_officers(_args: argparse.Namespace, context: CliContext) -> int:
    print(f"{'id':<20} {'role':<11} {'badge':<16} {'lang':<6} state")
    for officer in OfficerStore(context.engine()).all():
        state = "active" if officer.active else "deactivated"
        print(
            f"{officer.id:<20} {officer.role.value:<11} {officer.badge or '-':<16} "
            f"{officer.language:<6} {state}"
        )
    return 0


def deactivate_officer(args: argparse.Namespace, context: CliContext) -> int:
    try:
        OfficerStore(context.engine()).set_active(args.id, False)
    except OfficerError as error:
        print(f"carec-edge kiosk officer deactivate: {error}", file=sys.stderr)
        return 1
    print(f"deactivated {args.id}: they can no longer log in")
    return 0


def reset_pin(args: argparse.Namespace, context: CliContext) -> int:
    store = OfficerStore(context.engine())
    if store.get(args.id) is None:  # before asking for a PIN that would go nowhere
        print(f"carec-edge kiosk officer reset-pin: id: no officer {args.id!r}", file=sys.stderr)
        return 1
    try:
        store.set_pin(args.id, read_pin("new PIN: "))
    except OfficerError as error:
        print(f"carec-edge kiosk officer reset-pin: {error}", file=sys.stderr)
        return 1
    print(f"new PIN set for {args.id}")
    return 0
