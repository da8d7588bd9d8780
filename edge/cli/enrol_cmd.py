"""Enrolment on the command line.

On the box (registered under `carec-edge fleet`):
    fleet enrol --centre URL [--serial S] [--node ID] [--ca-file F]   ask to join, show the
        code and its QR code, wait for the operator, install the certificate and trust store
    fleet renew --centre URL [--within-days N]                          renew when due

At the centre (registered under `carec-edge centre fleet`):
    register NODE SERIAL | approve NODE | refuse NODE --reason R | reset NODE --reason R
    | revoke NODE --reason R | pending
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import getpass
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from edge.cli.context import CliContext
from provisioning.fleet.enrolment import (
    BoxEnrolment,
    BoxPaths,
    EnrolmentFailedError,
    NotEnrolledError,
    hardware_serial,
)
from provisioning.fleet.enrolment_protocol import EnrolmentAnswer
from provisioning.fleet.enrolment_qr import qr_svg, qr_text
from provisioning.identity.errors import IdentityError
from ui_kiosk.enrolment_page import EnrolmentScreen, create_enrolment_page

DEFAULT_RENEW_WITHIN_DAYS = 30


# --- the box ------------------------------------------------------------------------------------


def register_fleet(actions: Any) -> None:
    """Add `enrol` and `renew` to `carec-edge fleet`."""
    enrol: argparse.ArgumentParser = actions.add_parser(
        "enrol", help="ask the country's centre to enrol this box; show the code to compare"
    )
    _centre_options(enrol)
    enrol.add_argument("--serial", help="the hardware serial (default: the board's, DMI, or "
                       "the machine id)")  # fmt: skip
    enrol.add_argument("--node", help="this box's node id (default: node.id of the config)")
    enrol.add_argument("--no-wait", action="store_true", help="ask once and say the state")
    enrol.add_argument(
        "--kiosk", action="store_true",
        help="show the code and its QR code on the kiosk's screen (kiosk.host and kiosk.port) "
        "while waiting; a refused box's screen stays until stopped",
    )  # fmt: skip
    enrol.set_defaults(handler=enrol_command)
    renew = actions.add_parser(
        "renew", help="renew this box's certificate when it ends soon, or complete a key rotation"
    )
    _centre_options(renew)
    renew.add_argument("--serial")
    renew.add_argument("--within-days", type=int, default=DEFAULT_RENEW_WITHIN_DAYS)
    renew.set_defaults(handler=renew_command)


def _centre_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--centre", required=True, help="the centre's API, e.g. https://centre.kz")
    parser.add_argument(
        "--ca-file", type=CliContext.path_arg,
        help="the CA that signed the centre's HTTPS certificate (default: the system's)",
    )  # fmt: skip


def _box(args: argparse.Namespace, context: CliContext, client: httpx.Client) -> BoxEnrolment:
    config = context.config
    serial = args.serial or hardware_serial()
    paths = BoxPaths.of(config.sync.identity_dir, config.sync.trust_store)
    return BoxEnrolment(client, getattr(args, "node", None) or config.node.id, serial, paths)


def _client(args: argparse.Namespace) -> httpx.Client:
    verify: str | bool = str(args.ca_file) if args.ca_file else True
    return httpx.Client(base_url=args.centre, verify=verify, timeout=30)


def enrol_command(args: argparse.Namespace, context: CliContext) -> int:
    with _client(args) as client, contextlib.ExitStack() as stack:
        try:
            box = _box(args, context, client)
            code = box.prepare()
            print(f"node {box.node_id}, serial {box.serial}")
            print(f"enrolment code: {code}  (the fleet operator approves the box showing it)")
            print(qr_text(box.node_id, code))
            screen = KioskScreen(box.node_id, box.serial, code)
            if args.kiosk:
                kiosk = context.config.kiosk
                stack.enter_context(serve_screen(screen, kiosk.host, kiosk.port))
            if args.no_wait:
                answer = box.request()
                print(_state_line(answer))
                if answer.state != "enrolled":
                    return 0 if answer.state == "pending" else 1
            else:
                answer = box.wait(threading.Event(), on_pending=_print_waiting(screen))
            screen.show("enrolled")
            certificate = box.install(answer)
        except NotEnrolledError as refused:
            print(f"carec-edge: {refused}", file=sys.stderr)
            if args.kiosk:  # the screen says so until the box is stopped (and reset)
                screen.show(refused.answer.state, refused.answer.reason)
                threading.Event().wait()
            return 1
        except (EnrolmentFailedError, IdentityError, OSError) as error:
            print(f"carec-edge: {error}", file=sys.stderr)
            return 1
    print(f"enrolled: {certificate}; trust store {box.paths.trust_store}; "
          f"CA bundle {box.paths.ca_bundle}")  # fmt: skip
    if answer.peers:
        print(f"the centre's sync peers are in {box.paths.peers_file}: add them to the config")
    return 0


def renew_command(args: argparse.Namespace, context: CliContext) -> int:
    with _client(args) as client:
        try:
            box = _box(args, context, client)
            rotated = box.complete_rotation()
            if rotated is not None:
                print("the new key's certificate is in place (key rotation complete)")
                return 0
            answer = box.renew_if_due(args.within_days)
        except NotEnrolledError as refused:
            print(f"carec-edge: {refused}", file=sys.stderr)
            return 1
        except (EnrolmentFailedError, IdentityError, OSError) as error:
            print(f"carec-edge: {error}", file=sys.stderr)
            return 1
    print("renewed" if answer is not None else f"not due (ends later than {args.within_days} days)")
    return 0


def _state_line(answer: EnrolmentAnswer) -> str:
    line = f"{answer.node_id}: {answer.state}"
    return f"{line}: {answer.reason}" if answer.reason else line


def _print_waiting(screen: KioskScreen) -> Any:
    said: list[bool] = []

    def waiting(answer: EnrolmentAnswer) -> None:
        screen.show("pending")
        if not said:
            print(f"{answer.node_id}: waiting for the fleet operator (Ctrl-C stops)", flush=True)
            said.append(True)

    return waiting


class KioskScreen:
    """What the kiosk's enrolment page shows, changed as the answers come."""

    def __init__(self, node_id: str, serial: str, code: str) -> None:
        self.screen = EnrolmentScreen(node_id, serial, code, qr_svg(node_id, code), "starting")

    def show(self, state: str, reason: str | None = None) -> None:
        self.screen = dataclasses.replace(self.screen, state=state, reason=reason)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the command's own (SIGTERM, Ctrl-C) stop it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.contextmanager
def serve_screen(screen: KioskScreen, host: str, port: int) -> Iterator[int]:
    """The enrolment page on host:port while the block runs; the port it listens on."""
    app = create_enrolment_page(lambda: screen.screen)
    sock = socket.create_server((host, port))
    server = _Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# --- the centre ----------------------------------------------------------------------------------


def register_centre(commands: Any, default_config: Path) -> None:
    """Add `carec-edge centre fleet register|approve|refuse|reset|revoke|pending`."""
    fleet: argparse.ArgumentParser = commands.add_parser(
        "fleet", help="the boxes' enrolment: register, approve, refuse, reset, revoke, pending"
    )
    fleet.add_argument("--config", dest="centre_config", type=Path, default=default_config)
    fleet.add_argument("--operator", default=None, help="who acts (default: the login name)")
    actions = fleet.add_subparsers(dest="fleet_action", required=True, metavar="ACTION")
    register = actions.add_parser("register", help="pre-register a box by its serial")
    register.add_argument("node")
    register.add_argument("serial")
    approve = actions.add_parser("approve", help="enrol a waiting box (compare its code first)")
    approve.add_argument("node")
    for name, help_text in (
        ("refuse", "refuse a waiting box"),
        ("reset", "forget a refused box, so it may ask again"),
        ("revoke", "revoke an enrolled box: CRL, every box told, the centre refuses it"),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("node")
        sub.add_argument("--reason", required=True, help="kept in the audit, never in logs")
    actions.add_parser("pending", help="the boxes waiting, with their codes")
    fleet.set_defaults(handler=centre_fleet_command)


def centre_fleet_command(args: argparse.Namespace, _context: CliContext) -> int:
    from centre.config import load_centre_config
    from centre.fleet.enrolment import EnrolmentError, Enrolments, EnrolmentSettings
    from centre.store import open_centre_database
    from sync.outbox import Outbox, Route, Signer

    config = load_centre_config(args.centre_config)
    section = config.fleet.enrolment
    if section is None:
        print(f"carec-edge: no [fleet.enrolment] in {args.centre_config}", file=sys.stderr)
        return 2
    operator = args.operator or getpass.getuser()
    engine = open_centre_database(config.centre.database)
    try:
        signer = Signer.load(config.identity.identity_dir, config.centre.id)
        outbox = Outbox(engine, signer, [Route("*", "broker")])
        settings = EnrolmentSettings.of(section, config.identity.trust_store)
        enrolments = Enrolments(engine, outbox, settings)
        action = args.fleet_action
        if action == "pending":
            for box in enrolments.pending():
                print(f"{box.node_id}  serial {box.serial}  code {box.code}  "
                      f"asked {box.requested_at:%Y-%m-%d %H:%M}Z")  # fmt: skip
            return 0
        if action == "register":
            enrolments.register(args.node, args.serial, operator=operator)
        elif action == "approve":
            enrolments.approve(args.node, operator=operator)
        elif action == "refuse":
            enrolments.refuse(args.node, operator=operator, reason=args.reason)
        elif action == "reset":
            enrolments.reset(args.node, operator=operator, reason=args.reason)
        elif action == "revoke":
            enrolments.revoke(args.node, operator=operator, reason=args.reason)
        state = enrolments.state_of(args.node)
    except (EnrolmentError, ValueError, IdentityError) as error:
        print(f"carec-edge: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"{args.node}: {state or 'forgotten'}")
    return 0
