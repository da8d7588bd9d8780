"""Server-side sessions of the console, and the count of failed logins.

The cookie carries a random token (256 bits); the database keeps only its SHA-256, so a copy of
it opens no session. The CSRF token is an HMAC of the cookie's token, so it needs no column. A
session ends at logout, when its operator is deactivated, or after `idle_timeout` seconds
without a request. (Adapted from the kiosk's `ui_kiosk.sessions` and `ui_kiosk.login_guard`,
which the centre may not import.)"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Engine, delete, insert, select, update

from centre.store.schema import console_sessions
from edge.timeutil import utcnow

COOKIE_NAME = "carec_console_session"
MAX_TOKEN_CHARS = 64  # token_urlsafe(32) is 43; anything longer is no cookie of ours
Clock = Callable[[], float]  # seconds


def wall_clock() -> float:
    return utcnow().timestamp()


@dataclass(frozen=True)
class Session:
    id: str  # the SHA-256 of the cookie's token
    login: str
    csrf_token: str


class SessionStore:
    def __init__(self, engine: Engine, idle_timeout: float, clock: Clock = wall_clock) -> None:
        self.engine = engine
        self.idle_timeout = idle_timeout
        self.clock = clock
        # The idle clock is this coarse: a busy operator costs no write per click.
        self.touch_every = min(60.0, idle_timeout / 10)

    def create(self, login: str) -> tuple[Session, str]:
        """A fresh session (never a reused token: no fixation) and its cookie's value."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(_hashed(token), login, _csrf_of(token))
        with self.engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < _time(now)))
            conn.execute(
                insert(console_sessions).values(
                    id=session.id, login=login, created_at=_time(now), last_seen_at=_time(now),
                    expires_at=_time(now + self.idle_timeout),
                )
            )  # fmt: skip
        return session, token

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie (its idle clock started again), or None."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        session_id = _hashed(token)
        now = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(console_sessions.c.login, console_sessions.c.last_seen_at).where(
                    console_sessions.c.id == session_id
                )
            ).first()
        if row is None:
            return None
        last_seen = row.last_seen_at.timestamp()
        if now - last_seen > self.idle_timeout:
            self._delete(console_sessions.c.id == session_id)
            return None
        if now - last_seen >= self.touch_every:
            with self.engine.begin() as conn:
                conn.execute(
                    update(console_sessions)
                    .where(console_sessions.c.id == session_id)
                    .values(last_seen_at=_time(now), expires_at=_time(now + self.idle_timeout))
                )
        return Session(session_id, row.login, _csrf_of(token))

    def end(self, session_id: str) -> None:
        self._delete(console_sessions.c.id == session_id)

    def end_login(self, login: str) -> None:
        self._delete(console_sessions.c.login == login)

    def purge_expired(self) -> int:
        return self._delete(console_sessions.c.expires_at < _time(self.clock()))

    def _delete(self, where: ColumnElement[bool]) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(console_sessions).where(where)).rowcount


def csrf_matches(session: Session, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf_token, token)


def _hashed(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _csrf_of(token: str) -> str:
    return hmac.new(token.encode(), b"carec-console-csrf", hashlib.sha256).hexdigest()


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class LoginGuard:
    """Failed logins per login: after `max_failures` in a row, that login is refused for
    `lockout_seconds` (whoever it names, so it tells nothing of who exists). Bounded: the
    oldest entry goes when the map is full. Counts live in this process."""

    def __init__(
        self,
        max_failures: int,
        lockout_seconds: float,
        clock: Clock = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        self.max_entries = max_entries
        self._failures: dict[str, tuple[int, float]] = {}  # login -> (count, locked until)
        self._lock = threading.Lock()

    def locked(self, login: str) -> bool:
        with self._lock:
            _count, until = self._failures.get(login, (0, 0.0))
            return until > self.clock()

    def failed(self, login: str) -> None:
        with self._lock:
            count, _until = self._failures.pop(login, (0, 0.0))
            if len(self._failures) >= self.max_entries:
                del self._failures[next(iter(self._failures))]
            count += 1
            if count >= self.max_failures:
                self._failures[login] = (0, self.clock() + self.lockout_seconds)
            else:
                self._failures[login] = (count, 0.0)

    def succeeded(self, login: str) -> None:
        with self._lock:
            self._failures.pop(login, None)
