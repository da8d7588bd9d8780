"""Webhooks to the CIS, against a real HTTP server on a loopback port: the boxes' events arrive
in order, in batches, signed, once per success; a CIS that fails, refuses or does not answer
gets the same events again later, with a backoff that grows to its cap, and loses nothing;
targets are independent, and two instances never send one batch at once. On SQLite and on
PostgreSQL; every round is called directly with its `now`."""

from __future__ import annotations

import datetime as dt
import email.message
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from centre.box_events import FEED_TYPES, centre_acknowledger, centre_appliers
from centre.feed import read_feed
from centre.store import open_centre_database
from centre.store.schema import webhook_cursors
from centre.webhooks import (
    Outcome,
    WebhookSecretError,
    WebhookTarget,
    deliver_once,
    load_secret,
    verify_signature,
    webhook_job,
)
from edge.logs import record_fields
from edge.timeutil import format_utc
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox
from sync.inbox import Outcome as InboxOutcome
from sync.messages import Message
from sync.setup import key_lookup
from tests.centre.boxes import Box, arrival, decision
from tests.centre.conftest import CENTRE, NURZHOLY, Centre

SECRET = b"kz-cis-webhook-key-0123456789"
NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


@dataclass
class Received:
    headers: email.message.Message
    body: bytes

    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = orjson.loads(self.body)["events"]
        return events


@dataclass
class Cis:
    """The CIS's webhook endpoint: records each request before it answers `status`; `hold`
    keeps the answer back until set; `stop` closes the port (connections refused)."""

    requests: list[Received] = field(default_factory=list)
    status: int = 200
    hold: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    _server: HTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/carec/events"

    def start(self) -> None:
        cis = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                cis.requests.append(Received(self.headers, body))
                cis.entered.set()
                if cis.hold is not None:
                    cis.hold.wait(30)
                self.send_response(cis.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(HTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up before the answer (the timeout test)

        # The same port again after a stop (allow_reuse_address): the target's URL is fixed.
        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None

    def events(self) -> list[dict[str, Any]]:
        return [event for request in self.requests for event in request.events()]


@pytest.fixture
def cis() -> Iterator[Cis]:
    server = Cis()
    server.start()
    yield server
    if server.hold is not None:
        server.hold.set()
    if server._server is not None:
        server.stop()


@pytest.fixture
def other_cis() -> Iterator[Cis]:
    server = Cis()
    server.start()
    yield server
    server.stop()


@dataclass
class Boxes:
    """A box whose messages reach the centre's real inbox, as the broker delivers them."""

    inbox: Inbox
    box: Box

    def send(self, *messages: Message) -> None:
        results = self.inbox.receive(self.box.send(list(messages)))
        assert {r.outcome for r in results} == {InboxOutcome.APPLIED}


@pytest.fixture
def boxes(centre: Centre, tmp_path: Path) -> Boxes:
    inbox = Inbox(
        centre.engine, CENTRE, key_lookup(TrustStore.load(centre.fleet.trust_store)),
        centre_appliers(centre.outbox), acknowledge=centre_acknowledger(centre.outbox),
    )  # fmt: skip
    return Boxes(inbox, Box(centre.fleet, NURZHOLY, tmp_path / "box"))


def target(cis: Cis, tmp_path: Path, name: str = "cis", **settings: Any) -> WebhookTarget:
    key = tmp_path / f"{name}.key"
    key.write_bytes(SECRET + b"\n")
    return WebhookTarget(name=name, url=cis.url, secret_file=key, **settings)


def stored(engine: Engine, name: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(webhook_cursors).where(webhook_cursors.c.name == name)).one()


def test_events_reach_the_cis_in_order_in_batches_signed_and_once_each(
    centre: Centre, boxes: Boxes, cis: Cis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="centre.webhooks")
    boxes.send(arrival(NURZHOLY, 1, "REF-1"), decision(NURZHOLY, 1, "REF-1"))
    boxes.send(arrival(NURZHOLY, 2, "REF-2"))
    cis_target = target(cis, tmp_path, batch=2)

    first = deliver_once(centre.engine, cis_target, SECRET, NOW)
    second = deliver_once(centre.engine, cis_target, SECRET, NOW)
    third = deliver_once(centre.engine, cis_target, SECRET, NOW)

    feed = read_feed(centre.engine, 0, 100)
    assert [(o.status, o.count) for o in (first, second, third)] == [
        ("delivered", 2), ("delivered", 1), ("idle", 0),
    ]  # fmt: skip
    assert len(cis.requests) == 2
    # The same objects as the feed's, in the feed's order, each once.
    assert cis.events() == feed.events
    assert [e["type"] for e in cis.events()] == ["arrival", "decision", "arrival"]
    bodies = [orjson.loads(r.body) for r in cis.requests]
    assert [b["cursor"] for b in bodies] == [first.cursor, second.cursor]
    assert second.cursor == feed.cursor == stored(centre.engine, "cis").cursor
    for request in cis.requests:
        signature = request.headers["X-Carec-Signature"]
        assert verify_signature(SECRET, request.body, signature)
        assert not verify_signature(b"another-key-0123456789", request.body, signature)
        assert not verify_signature(SECRET, request.body.replace(b"REF", b"FER"), signature)
        assert request.headers["X-Carec-Timestamp"] == format_utc(NOW)
        assert request.headers["Content-Type"] == "application/json"
    deliveries = {uuid.UUID(r.headers["X-Carec-Delivery"]) for r in cis.requests}
    assert len(deliveries) == 2
    logged = [r for r in caplog.records if r.getMessage() == "webhook.delivered"]
    assert [record_fields(r) for r in logged] == [
        {"webhook": "cis", "count": 2, "cursor": first.cursor},
        {"webhook": "cis", "count": 1, "cursor": second.cursor},
    ]


def test_a_failing_cis_keeps_the_cursor_and_backs_off_up_to_the_cap(
    centre: Centre, boxes: Boxes, cis: Cis, tmp_path: Path
) -> None:
    boxes.send(arrival(NURZHOLY, 1), arrival(NURZHOLY, 2))
    cis.status = 500
    cis_target = target(cis, tmp_path, max_backoff_s=4)
    now, waits = NOW, []
    for _ in range(5):
        failed = deliver_once(centre.engine, cis_target, SECRET, now)
        assert (failed.status, failed.error, failed.cursor) == ("failed", "HTTP 500", 0)
        assert failed.next_attempt_at is not None
        waits.append((failed.next_attempt_at - now).total_seconds())
        now = failed.next_attempt_at
    assert waits == [1, 2, 4, 4, 4]
    row = stored(centre.engine, "cis")
    assert (row.cursor, row.failures, row.last_error) == (0, 5, "HTTP 500")
    assert row.next_attempt_at == now

    # Not yet due: nothing is sent.
    early = deliver_once(centre.engine, cis_target, SECRET, now - dt.timedelta(microseconds=1))
    assert early == Outcome("waiting", 0, 0, 5, now)
    assert len(cis.requests) == 5

    cis.status = 200
    delivered = deliver_once(centre.engine, cis_target, SECRET, now)
    assert (delivered.status, delivered.count) == ("delivered", 2)
    # Every attempt carried the same events: the CIS dedupes by message_id.
    assert {tuple(e["message_id"] for e in r.events()) for r in cis.requests} == {
        tuple(e["message_id"] for e in read_feed(centre.engine, 0, 100).events)
    }
    row = stored(centre.engine, "cis")
    assert (row.cursor, row.failures, row.next_attempt_at, row.last_error) == (
        delivered.cursor, 0, None, None,
    )  # fmt: skip


def test_nothing_is_lost_while_the_cis_is_down_for_several_rounds(
    centre: Centre, boxes: Boxes, cis: Cis, tmp_path: Path
) -> None:
    cis_target = target(cis, tmp_path, batch=2)
    boxes.send(arrival(NURZHOLY, 1))
    assert deliver_once(centre.engine, cis_target, SECRET, NOW).status == "delivered"
    cis.stop()
    now = NOW
    for arrival_id in range(2, 6):
        boxes.send(arrival(NURZHOLY, arrival_id))
        refused = deliver_once(centre.engine, cis_target, SECRET, now)
        assert (refused.status, refused.error) == ("failed", "ConnectError")
        assert refused.next_attempt_at is not None
        now = refused.next_attempt_at
    assert stored(centre.engine, "cis").failures == 4

    cis.start()
    outcomes: list[Outcome] = []
    while not outcomes or outcomes[-1].status == "delivered":
        outcomes.append(deliver_once(centre.engine, cis_target, SECRET, now))
    assert [(o.status, o.count) for o in outcomes] == [
        ("delivered", 2), ("delivered", 2), ("idle", 0),
    ]  # fmt: skip
    assert [e["payload"]["arrival_id"] for e in cis.events()] == [1, 2, 3, 4, 5]
    assert cis.events() == read_feed(centre.engine, 0, 100).events


def test_a_cis_that_does_not_answer_in_time_gets_the_batch_again(
    centre: Centre, boxes: Boxes, cis: Cis, tmp_path: Path
) -> None:
    boxes.send(arrival(NURZHOLY, 1))
    cis_target = target(cis, tmp_path, timeout_s=0.3)
    cis.hold = threading.Event()  # the CIS takes the request and never answers
    late = deliver_once(centre.engine, cis_target, SECRET, NOW)
    assert (late.status, late.error, late.cursor) == ("failed", "ReadTimeout", 0)
    cis.hold.set()
    cis.hold = None
    assert late.next_attempt_at is not None
    again = deliver_once(centre.engine, cis_target, SECRET, late.next_attempt_at)
    assert again.status == "delivered"
    first, second = cis.requests
    assert first.events() == second.events()
    assert first.headers["X-Carec-Delivery"] != second.headers["X-Carec-Delivery"]


def test_the_types_filter_sends_only_those_types_and_moves_past_the_rest(
    centre: Centre, boxes: Boxes, cis: Cis, tmp_path: Path
) -> None:
    decisions = target(cis, tmp_path, types=["decision"])
    boxes.send(arrival(NURZHOLY, 1, "REF-1"), decision(NURZHOLY, 1, "REF-1"))
    boxes.send(arrival(NURZHOLY, 2, "REF-2"), arrival(NURZHOLY, 3))
    assert deliver_once(centre.engine, decisions, SECRET, NOW).count == 1
    # Only arrivals after it: nothing sent, and the cursor moves past them.
    idle = deliver_once(centre.engine, decisions, SECRET, NOW)
    newest = read_feed(centre.engine, 0, 100).cursor
    assert (idle.status, idle.cursor, stored(centre.engine, "cis").cursor) == (
        "idle", newest, newest,
    )  # fmt: skip
    boxes.send(decision(NURZHOLY, 2, "REF-2"))
    assert deliver_once(centre.engine, decisions, SECRET, NOW).count == 1
    assert [(e["type"], e["payload"]["arrival"]["arrival_id"]) for e in cis.events()] == [
        ("decision", 1), ("decision", 2),
    ]  # fmt: skip


def test_two_targets_are_independent(
    centre: Centre, boxes: Boxes, cis: Cis, other_cis: Cis, tmp_path: Path
) -> None:
    up = target(cis, tmp_path, name="cis-up")
    down = target(other_cis, tmp_path, name="cis-down", types=["decision"])
    other_cis.status = 503
    boxes.send(arrival(NURZHOLY, 1, "REF-1"), decision(NURZHOLY, 1, "REF-1"))
    assert deliver_once(centre.engine, up, SECRET, NOW).count == 2
    failed = deliver_once(centre.engine, down, SECRET, NOW)
    assert (failed.status, failed.error) == ("failed", "HTTP 503")
    assert (stored(centre.engine, "cis-up").failures, stored(centre.engine, "cis-down").cursor) == (
        0, 0,
    )  # fmt: skip
    other_cis.status = 200
    assert failed.next_attempt_at is not None
    assert deliver_once(centre.engine, down, SECRET, failed.next_attempt_at).count == 1
    assert deliver_once(centre.engine, up, SECRET, failed.next_attempt_at).status == "idle"
    assert [e["type"] for e in cis.events()] == ["arrival", "decision"]
    assert [e["type"] for e in other_cis.events()] == ["decision", "decision"]


def test_two_instances_never_send_the_same_batch_at_once(
    centre: Centre, boxes: Boxes, cis: Cis, tmp_path: Path, database_url: str
) -> None:
    if centre.engine.dialect.name != "postgresql":
        pytest.skip("several instances share PostgreSQL only")
    other_instance = open_centre_database(database_url)
    boxes.send(arrival(NURZHOLY, 1), arrival(NURZHOLY, 2))
    cis_target = target(cis, tmp_path)
    cis.hold = threading.Event()
    first: list[Outcome] = []
    sending = threading.Thread(
        target=lambda: first.append(deliver_once(centre.engine, cis_target, SECRET, NOW))
    )
    sending.start()
    assert cis.entered.wait(30)  # the first instance is in its POST, the row locked
    assert deliver_once(other_instance, cis_target, SECRET, NOW) == Outcome("busy")
    cis.hold.set()
    sending.join(30)
    assert [(o.status, o.count) for o in first] == [("delivered", 2)]
    assert deliver_once(other_instance, cis_target, SECRET, NOW).status == "idle"
    assert len(cis.requests) == 1
    other_instance.dispose()


def test_the_job_sends_a_backlog_batch_after_batch(
    centre: Centre, boxes: Boxes, cis: Cis, tmp_path: Path
) -> None:
    boxes.send(*(arrival(NURZHOLY, i) for i in range(1, 6)))
    job = webhook_job(centre.engine, [target(cis, tmp_path, batch=2)])
    job()
    assert [len(r.events()) for r in cis.requests] == [2, 2, 1]
    job()
    assert len(cis.requests) == 3


def test_a_missing_or_short_key_file_stops_the_start_with_its_name(tmp_path: Path) -> None:
    key = tmp_path / "cis.key"
    settings = WebhookTarget(name="cis", url="https://cis.example/events", secret_file=key)
    with pytest.raises(WebhookSecretError, match=r"webhooks\.cis\.secret_file: cannot read .*"):
        load_secret(settings)
    key.write_bytes(b"short\n")
    with pytest.raises(WebhookSecretError, match="holds 5 bytes, fewer than 16; write the"):
        webhook_job(open_centre_database(f"sqlite:///{tmp_path / 'c.sqlite3'}"), [settings])
    key.write_bytes(b"  " + SECRET + b"\n")
    assert load_secret(settings) == SECRET


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"url": "ftp://cis.example/events"}, "is not an http:// or https:// URL"),
        ({"url": "https://user:pw@cis.example/"}, "no credentials in the URL"),
        ({"types": []}, "types\n  Value error, empty"),
        ({"types": ["telemetry"]}, "types.0\n  Input should be 'arrival'"),
        ({"types": ["arrival", "arrival"]}, "a type is listed twice"),
        ({"batch": 0}, "batch\n  Input should be greater than or equal to 1"),
        ({"secret": "in-the-config"}, "secret\n  Extra inputs are not permitted"),
    ],
)
def test_a_bad_webhook_entry_is_refused_naming_the_key(
    settings: dict[str, Any], error: str
) -> None:
    entry = {"name": "cis", "url": "https://cis.example/events", "secret_file": "/k"}
    with pytest.raises(ValidationError, match=error):
        WebhookTarget.model_validate(entry | settings)
    assert WebhookTarget.model_validate(entry).types == FEED_TYPES
