"""The console under test: its app over the centre's database (SQLite and PostgreSQL), the
centre's real inbox as its re-verifier, three operators, a fake clock for idle sessions, and
real envelopes from a box put into quarantine the ways the inbox puts them there."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from centre.box_events import centre_acknowledger, centre_appliers
from centre.console.app import create_console
from centre.console.operators import Role, add_operator
from centre.console.sessions import wall_clock
from centre.console.settings import ConsoleSettings
from centre.review_queue import OnApproved, ReviewQueue
from centre.store.schema import console_audit
from edge.store.schema import quarantine
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Incoming, Outcome
from sync.setup import key_lookup
from tests.centre.boxes import Box, arrival
from tests.centre.conftest import CENTRE, NURZHOLY, ROUTING, Centre

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORDS = {"olga": "olga-password-1", "viktor": "viktor-password-1", "irina": "irina-password"}
IDLE_MINUTES = 30


@dataclass
class FakeClock:
    now: float = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ConsoleUnderTest:
    client: TestClient
    centre: Centre
    inbox: Inbox
    review: ReviewQueue
    clock: FakeClock

    def login(self, who: str, password: str | None = None) -> str:
        """Log `who` in; this session's CSRF token."""
        response = self.client.post(
            "/login", data={"login": who, "password": password or PASSWORDS[who]}
        )
        assert response.status_code == 200, response.text
        return csrf_of(response.text)

    def quarantined_ids(self) -> list[int]:
        with self.centre.engine.connect() as conn:
            return list(conn.execute(select(quarantine.c.id).order_by(quarantine.c.id)).scalars())

    def audit_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(operator, action, item, reason, outcome) of every audited action, in order."""
        query = select(
            console_audit.c.operator, console_audit.c.action, console_audit.c.item,
            console_audit.c.reason, console_audit.c.outcome,
        ).order_by(console_audit.c.id)  # fmt: skip
        with self.centre.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def centre_inbox(centre: Centre) -> Inbox:
    """The centre's inbox as `CentreService` builds it: its trust store, its appliers."""
    return Inbox(
        centre.engine, CENTRE, key_lookup(TrustStore.load(centre.fleet.trust_store)),
        centre_appliers(centre.outbox), acknowledge=centre_acknowledger(centre.outbox),
    )  # fmt: skip


def console_app(
    centre: Centre, on_approved: OnApproved | None = None, clock: FakeClock | None = None
) -> tuple[FastAPI, Inbox, ReviewQueue]:
    """The console over `centre` with its three operators and the centre's real inbox."""
    engine = centre.engine
    add_operator(engine, "olga", PASSWORDS["olga"], Role.OPERATOR, hasher=FAST_HASHER)
    add_operator(engine, "viktor", PASSWORDS["viktor"], "viewer", hasher=FAST_HASHER)
    add_operator(engine, "irina", PASSWORDS["irina"], Role.OPERATOR, language="ru",
                 hasher=FAST_HASHER)  # fmt: skip
    inbox = centre_inbox(centre)
    review = ReviewQueue(engine, on_approved)
    settings = ConsoleSettings(cookie_secure=False, idle_timeout_minutes=IDLE_MINUTES)
    app = create_console(
        engine, settings, inbox, centre_id=CENTRE, routing=ROUTING, review=review,
        clock=clock or wall_clock, hasher=FAST_HASHER,
    )  # fmt: skip
    return app, inbox, review


@contextmanager
def console_under_test(
    centre: Centre, on_approved: OnApproved | None = None
) -> Iterator[ConsoleUnderTest]:
    clock = FakeClock()
    app, inbox, review = console_app(centre, on_approved, clock)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield ConsoleUnderTest(client, centre, inbox, review, clock)


def tampered(data: bytes) -> bytes:
    """The envelope with one byte of its signature changed (still valid base64url)."""
    header, payload, signature = data.split(b".")
    first = b"B" if signature[:1] != b"B" else b"C"
    return b".".join([header, payload, first + signature[1:]])


def quarantine_bad_signature(centre: Centre, data_dir: Path, arrival_id: int = 1) -> int:
    """A box's arrival whose signature was changed on the way: quarantined; its row id."""
    [incoming] = Box(centre.fleet, NURZHOLY, data_dir).send([arrival(NURZHOLY, arrival_id)])
    [result] = centre_inbox(centre).receive(
        [Incoming(incoming.peer, incoming.topic, tampered(incoming.data))]
    )
    assert (result.outcome, result.reason) == (Outcome.QUARANTINED, "bad_signature"), result
    return _latest_quarantined(centre)


def quarantine_unknown_type(centre: Centre, data_dir: Path, ref: str = "REF-7") -> int:
    """A box's arrival received by a centre that did not apply arrivals yet (its appliers
    lacked the type): quarantined as unknown_type; the real inbox would apply it."""
    appliers = {k: v for k, v in centre_appliers(centre.outbox).items() if k != "arrival"}
    early = Inbox(
        centre.engine, CENTRE, key_lookup(TrustStore.load(centre.fleet.trust_store)), appliers
    )
    sent = Box(centre.fleet, NURZHOLY, data_dir).send([arrival(NURZHOLY, 1, ref)])
    [result] = early.receive(sent)
    assert (result.outcome, result.reason) == (Outcome.QUARANTINED, "unknown_type"), result
    return _latest_quarantined(centre)


def quarantine_raw(centre: Centre, raw: bytes) -> int:
    """Bytes that never were an envelope (a bundle's bad line), kept for review."""
    result = centre_inbox(centre).quarantine_input(
        Incoming("bundle", "bundle:day-1.jsonl", raw), "malformed", "line 3: not a JWS"
    )
    assert result.outcome is Outcome.QUARANTINED
    return _latest_quarantined(centre)


def jws_like(header: dict[str, object], payload: dict[str, object]) -> bytes:
    """Three base64url segments, the last not a signature of anything."""

    def segment(value: dict[str, object]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    return b".".join([segment(header), segment(payload), b"c2lnbmF0dXJl"])


def _latest_quarantined(centre: Centre) -> int:
    with centre.engine.connect() as conn:
        found = conn.execute(select(quarantine.c.id).order_by(quarantine.c.id.desc())).scalar()
    assert found is not None
    return int(found)
