"""Enrolment on the command line.

On the box (registered under `carec-edge fleet`):
    fleet enrol --centre URL [--serial S] [--node ID] [--ca-file F]   ask to join, show the
        code and its QR code, wait for the operator, install the certificate and trust store
    fleet renew --centre URL [--within-days N]                          renew when due

At the centre: `carec-edge centre fleet ...` (edge.cli.centre_fleet_cmd).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from edge.cli.context import CliContext
from edge.config import read_config_text
from provisioning.fleet import config_file
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
    renewal = {"centre_url": args.centre, "serial": box.serial}
    if args.ca_file:
        renewal["centre_ca_file"] = str(args.ca_file)
    joined = join_config(context.config_path, answer, box.paths.ca_bundle, renewal)
    if joined:
        print(f"{context.config_path}: {', '.join(joined)} set from the centre's answer")
    elif answer.peers:
        print(f"the centre's sync peers are in {box.paths.peers_file}: add them to the config")
    return 0


def join_config(
    path: Path | None, answer: EnrolmentAnswer, ca_bundle: Path, renewal: dict[str, str]
) -> list[str]:
    """Write into the box's configuration what the centre's answer says and the file leaves
    open: its sync peers (when it has none), the centre to report to, where to fetch updates,
    and where and as which serial to renew (`renewal`: [fleet] keys, each when unset). The keys
    set; none when the file already says them all (an installer's choice stands)."""
    if path is None or not path.exists():
        return []
    data = config_file.load_data(path)
    sync = dict(data.get("sync") or {})
    fleet = dict(data.get("fleet") or {})
    changed: dict[str, Any] = {}
    if not sync.get("peers") and answer.peers:
        sync["peers"] = [{**peer.model_dump(), "ca_file": str(ca_bundle)} for peer in answer.peers]
        changed["sync"] = sync
    wanted = {"report_to": answer.report_to or "", "update_url": answer.update_url or "", **renewal}
    fleet_keys = [key for key, value in wanted.items() if value and not fleet.get(key)]
    if fleet_keys:
        changed["fleet"] = fleet | {key: wanted[key] for key in fleet_keys}
    keys = (["sync.peers"] if "sync" in changed else []) + [f"fleet.{k}" for k in fleet_keys]
    if not changed:
        return []
    merged = {**data, **changed}
    config_file.write(path, config_file.render(read_config_text(path), merged, set(changed)))
    return keys


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
