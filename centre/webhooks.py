"""Webhooks to the CIS: the boxes' events pushed to the CIS's URL(s), in the feed's order, in
batches, signed, with retries; a CIS that is down loses nothing.

Each configured target (`[[webhooks]]`) has a cursor in `cis_webhook_cursors`: the last
`cis_events.id` the CIS accepted. A round reads up to `batch` events after it
(`centre.feed.read_feed`) and POSTs them as JSON, `{"events": [...], "cursor": N}`, each event
the same object as the feed's `events` items. The cursor moves only after a 2xx answer; a
connection error, a timeout or any other status keeps it, counts the failure and waits
1, 2, 4, ... seconds (at most `max_backoff_s`) before the same events are sent again.

Delivery is at least once: a CIS that stored a batch but whose 2xx never reached the centre
gets that batch again. The CIS dedupes by each event's `message_id` (unique per event), and
answers 2xx only once the batch is stored.

Every request carries:
- `X-Carec-Signature: sha256=<hex HMAC-SHA256 of the exact body, keyed by secret_file's content>`
- `X-Carec-Timestamp`: when the centre sent it (ISO 8601 UTC);
- `X-Carec-Delivery`: a fresh UUID per attempt (for the CIS's logs; dedupe by `message_id`).

The CIS checks the signature on the raw body before it parses it:

    import hashlib, hmac

    def verify_signature(secret: bytes, body: bytes, header: str) -> bool:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), header.encode())

The secret is the key file's content without surrounding whitespace, as bytes.

Several centre instances on one PostgreSQL: a round locks its target's cursor row
(`FOR UPDATE SKIP LOCKED`) for the whole attempt, so another instance skips that target
meanwhile and two never send the same batch at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from centre.config import WebhookSection
from centre.feed import read_feed
from centre.store.schema import events, webhook_cursors
from edge.logs import log_event
from edge.timeutil import format_utc, utcnow
from sync.messages import new_message_id

log = logging.getLogger(__name__)

WebhookType = Literal["arrival", "decision", "exit_confirmation"]  # centre.box_events.FEED_TYPES
# How often the service runs `webhook_job` (each target still waits out its own backoff).
POLL_S = 1.0
# A round sends at most this many batches per target, so one long backlog delays no other.
MAX_BATCHES_PER_ROUND = 50
FIRST_BACKOFF_S = 1.0
MIN_SECRET_BYTES = 16


WebhookTarget = WebhookSection  # the config's model: one type for the job and the file


class WebhookSecretError(ValueError):
    """A target's key file the centre cannot use, with the fix."""


def load_secret(target: WebhookTarget) -> bytes:
    return read_secret(target.secret_file, f"webhooks.{target.name}.secret_file")


def read_secret(path: Path, key: str) -> bytes:
    """The HMAC key in `path` (the config's `key`); WebhookSecretError naming the key and the
    fix when it cannot be read or is too short."""
    fix = f"write the HMAC key there, e.g. `openssl rand -hex 32 > {path}`"
    try:
        secret = path.read_bytes().strip()
    except OSError as error:
        raise WebhookSecretError(f"{key}: cannot read {path} ({error.strerror}); {fix}") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise WebhookSecretError(
            f"{key}: {path} holds {len(secret)} bytes, fewer than {MIN_SECRET_BYTES}; {fix}"
        )
    return secret


def sign(secret: bytes, body: bytes) -> str:
    """The `X-Carec-Signature` header of `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str) -> bool:
    """Whether `header` is the signature of `body` under `secret` (a constant-time compare)."""
    return hmac.compare_digest(sign(secret, body).encode(), header.encode())


def backoff(failures: int, max_backoff_s: float) -> dt.timedelta:
    """The wait after the `failures`-th failure in a row: 1, 2, 4, ... s, at most the cap."""
    doubling = FIRST_BACKOFF_S * 2.0 ** min(max(failures - 1, 0), 40)
    return dt.timedelta(seconds=min(doubling, max_backoff_s))


@dataclass(frozen=True)
class Outcome:
    """What one round did for a target:
    - delivered: the CIS answered 2xx to `count` events; the cursor moved to `cursor`;
    - failed: nothing moved; the next attempt is at `next_attempt_at`;
    - idle: nothing to send (the cursor may move past events of types the target skips);
    - waiting: still backing off after a failure; nothing sent;
    - busy: another instance holds the target's row; nothing sent."""

    status: Literal["delivered", "failed", "idle", "waiting", "busy"]
    cursor: int = 0
    count: int = 0
    failures: int = 0
    next_attempt_at: dt.datetime | None = None
    error: str | None = None  # "HTTP 503", "ConnectError": never the payload


@dataclass(frozen=True)
class _State:
    cursor: int
    failures: int
    next_attempt_at: dt.datetime | None


def new_client(target: WebhookTarget) -> httpx.Client:
    """httpx rather than urllib: a timeout on each phase (connect, write, read, pool) instead of
    one socket timeout, redirects never followed (urllib would follow one and turn the signed
    POST into a GET), typed errors to count, and connections kept between rounds.
    trust_env=False: the CIS is reached directly, whatever proxy the environment sets."""
    return httpx.Client(
        timeout=httpx.Timeout(target.timeout_s), follow_redirects=False, trust_env=False
    )


def deliver_once(
    engine: Engine,
    target: WebhookTarget,
    secret: bytes,
    now: dt.datetime,
    *,
    client: httpx.Client | None = None,
) -> Outcome:
    """One attempt for `target`: the next batch after its cursor to the CIS, if one waits and
    the target is not backing off. `client` is kept between rounds by `webhook_job`."""
    _ensure_row(engine, target.name, now)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # the row stays locked until the outcome is written
            state = _state(conn, target.name, lock=True)
            if state is None:
                return Outcome("busy")
            outcome, change = _attempt(engine, target, secret, now, state, client)
            _write(conn, target.name, change)
        return outcome
    # SQLite serves one instance; no transaction is held over the POST, which would keep the
    # inbox from writing (one writer at a time) for as long as the CIS takes to answer.
    with engine.connect() as conn:
        state = _state(conn, target.name, lock=False)
    assert state is not None  # _ensure_row made it
    outcome, change = _attempt(engine, target, secret, now, state, client)
    with engine.begin() as conn:
        _write(conn, target.name, change)
    return outcome


def webhook_job(engine: Engine, targets: Sequence[WebhookTarget]) -> Callable[[], None]:
    """A round over every target, for `CentreService._every` (each `POLL_S`): a backlog is sent
    batch after batch, up to `MAX_BATCHES_PER_ROUND` per target. The keys are read now, so a
    missing or short key file stops the start with its name."""
    secrets = {t.name: load_secret(t) for t in targets}
    clients = {t.name: new_client(t) for t in targets}

    def run() -> None:
        for target in targets:
            for _ in range(MAX_BATCHES_PER_ROUND):
                outcome = deliver_once(
                    engine, target, secrets[target.name], utcnow(), client=clients[target.name]
                )
                if outcome.status != "delivered" or outcome.count < target.batch:
                    break

    return run


# -- one attempt ---------------------------------------------------------------------------


def _attempt(
    engine: Engine,
    target: WebhookTarget,
    secret: bytes,
    now: dt.datetime,
    state: _State,
    client: httpx.Client | None,
) -> tuple[Outcome, dict[str, Any]]:
    """The outcome, and the changes to the target's row (empty: none)."""
    if state.next_attempt_at is not None and now < state.next_attempt_at:
        waiting = Outcome("waiting", state.cursor, 0, state.failures, state.next_attempt_at)
        return waiting, {}
    # Read before the page: every event up to `newest` is committed by then (the feed commits
    # in id order), so when the page holds none of the target's types it may skip them all.
    newest = _newest_event_id(engine)
    page = read_feed(engine, state.cursor, target.batch, target.types)
    if not page.events:
        if newest > state.cursor:
            return Outcome("idle", newest), {"cursor": newest, "updated_at": now}
        return Outcome("idle", state.cursor), {}
    body = orjson.dumps({"events": page.events, "cursor": page.cursor})
    if client is None:
        with new_client(target) as own:
            error = _post(own, target, secret, body, now)
    else:
        error = _post(client, target, secret, body, now)
    if error is None:
        log_event(log, logging.INFO, "webhook.delivered", webhook=target.name,
                  count=len(page.events), cursor=page.cursor)  # fmt: skip
        delivered = Outcome("delivered", page.cursor, len(page.events))
        change: dict[str, Any] = {"cursor": page.cursor, "failures": 0,
                                  "next_attempt_at": None, "last_error": None,
                                  "updated_at": now}  # fmt: skip
        return delivered, change
    failures = state.failures + 1
    wait = backoff(failures, target.max_backoff_s)
    log_event(log, logging.WARNING, "webhook.failed", webhook=target.name, error=error,
              failures=failures, retry_in_s=wait.total_seconds())  # fmt: skip
    failed = Outcome("failed", state.cursor, 0, failures, now + wait, error)
    retry: dict[str, Any] = {"failures": failures, "next_attempt_at": now + wait,
                             "last_error": error, "updated_at": now}  # fmt: skip
    return failed, retry


def _post(
    client: httpx.Client, target: WebhookTarget, secret: bytes, body: bytes, now: dt.datetime
) -> str | None:
    """None when the CIS accepted the batch (2xx), else why not: a status or an error's class
    (never its text, which may quote the request)."""
    headers = {
        "Content-Type": "application/json",
        "X-Carec-Signature": sign(secret, body),
        "X-Carec-Timestamp": format_utc(now),
        "X-Carec-Delivery": new_message_id(),
    }
    try:
        response = client.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as error:  # connection refused or reset, timeouts, TLS, protocol
        return type(error).__name__
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


# -- the cursor rows -----------------------------------------------------------------------


def _ensure_row(engine: Engine, name: str, now: dt.datetime) -> None:
    """A new target starts at the beginning of the feed the centre still keeps."""
    with engine.connect() as conn:
        known = conn.execute(
            select(webhook_cursors.c.name).where(webhook_cursors.c.name == name)
        ).first()
    if known is not None:
        return
    row: dict[str, Any] = {"name": name, "cursor": 0, "failures": 0, "next_attempt_at": None,
                           "last_error": None, "updated_at": now}  # fmt: skip
    with engine.begin() as conn:  # two instances starting together: one row
        if engine.dialect.name == "postgresql":
            conn.execute(postgresql.insert(webhook_cursors).values(row).on_conflict_do_nothing())
        else:
            conn.execute(sqlite.insert(webhook_cursors).values(row).on_conflict_do_nothing())


def _state(conn: Connection, name: str, *, lock: bool) -> _State | None:
    """The target's row; None when another instance holds it locked."""
    table = webhook_cursors
    query = select(table.c.cursor, table.c.failures, table.c.next_attempt_at).where(
        table.c.name == name
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).first()
    return None if row is None else _State(row.cursor, row.failures, row.next_attempt_at)


def _write(conn: Connection, name: str, change: dict[str, Any]) -> None:
    if change:
        conn.execute(update(webhook_cursors).where(webhook_cursors.c.name == name).values(change))


def _newest_event_id(engine: Engine) -> int:
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(events.c.id))).scalar()
    return int(newest or 0)
