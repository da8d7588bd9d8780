"""Server-side sessions, kept in the store: a restart of the service or the kiosk (the watchdog's,
an update's) does not log an officer out mid-truck.

The cookie carries a random token (256 bits); the store keeps only its SHA-256, so a copy of
the database opens no session. The CSRF token is derived from the cookie's token (an HMAC), so
it needs no column either. A session ends at logout, when its officer is deactivated, or when
nobody touched it for the idle timeout (the live refreshes do not touch it: only what the
officer does). Expired sessions are purged whenever one is created or the kiosk starts.

Every read and write goes through the runner it is given: inside `carec-edge run` that is the
service's store thread (`EdgeService.in_store`, through `StoreBackend`), the one thread that
touches the store; alone, the backend's own thread.

Touching writes the store at most once per `touch_every` seconds per session: the idle clock
is that coarse (a minute of a 10-minute timeout at most), and a busy officer costs no fsync per
click.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, delete, insert, select, update

from edge.store.schema import kiosk_sessions
from edge.timeutil import utcnow

COOKIE_NAME = "carec_kiosk_session"
Clock = Callable[[], float]  # seconds; the store keeps them as UTC times
MAX_TOKEN_CHARS = 64  # token_urlsafe(32) is 43; anything longer is no cookie of ours
T = TypeVar("T")


class StoreRunner(Protocol):
    """Runs store work off the event loop, on the thread that owns the store."""

    def __call__(self, function: Callable[..., T], /, *args: Any) -> Awaitable[T]: ...


async def _in_a_thread(function: Callable[..., T], /, *args: Any) -> T:
    return await asyncio.to_thread(function, *args)


def wall_clock() -> float:
    """The box's clock (edge.timeutil), in seconds: a session's times outlive the process."""
    return utcnow().timestamp()


@dataclass(frozen=True)
class Session:
    id: str  # the SHA-256 of the cookie's token, as the store keys it
    officer_id: str
    csrf_token: str
    last_seen: float


class SessionStore:
    def __init__(
        self,
        engine: Engine,
        idle_timeout: float,
        clock: Clock = wall_clock,
        touch_every: float | None = None,
        run: StoreRunner = _in_a_thread,
    ) -> None:
        self.engine = engine
        self.run = run
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.touch_every = touch_every if touch_every is not None else min(60.0, idle_timeout / 10)

    # The routes' side: the store's work through the runner, off the event loop.

    async def create(self, officer_id: str) -> tuple[Session, str]:
        """A fresh session (never a reused token: no fixation), and its cookie's value."""
        return await self.run(self.create_now, officer_id)

    async def get(self, cookie: str | None, touch: bool = True) -> Session | None:
        """The live session of a cookie; None when it is unknown, ended or idle too long."""
        if not cookie or len(cookie) > MAX_TOKEN_CHARS:
            return None
        return await self.run(self.get_now, cookie, touch)

    async def end(self, session_id: str) -> None:
        await self.run(self._delete, kiosk_sessions.c.id == session_id)

    async def end_officer(self, officer_id: str) -> None:
        await self.run(self._delete, kiosk_sessions.c.officer_id == officer_id)

    async def purge_expired(self) -> int:
        """Delete the sessions past their idle timeout; how many."""
        return await self.run(self.purge_expired_now)

    # The store's side.

    def create_now(self, officer_id: str) -> tuple[Session, str]:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(_hashed(token), officer_id, _csrf_of(token), now)
        with self.engine.begin() as conn:
            conn.execute(delete(kiosk_sessions).where(kiosk_sessions.c.expires_at < _time(now)))
            conn.execute(
                insert(kiosk_sessions).values(
                    id=session.id,
                    officer_id=officer_id,
                    created_at=_time(now),
                    last_seen_at=_time(now),
                    expires_at=_time(now + self.idle_timeout),
                )
            )
        return session, token

    def get_now(self, token: str, touch: bool) -> Session | None:
        session_id = _hashed(token)
        now = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(kiosk_sessions.c.officer_id, kiosk_sessions.c.last_seen_at).where(
                    kiosk_sessions.c.id == session_id
                )
            ).first()
        if row is None:
            return None
        last_seen = row.last_seen_at.timestamp()
        if now - last_seen > self.idle_timeout:
            self._delete(kiosk_sessions.c.id == session_id)
            return None
        if touch and now - last_seen >= self.touch_every:
            with self.engine.begin() as conn:
                conn.execute(
                    update(kiosk_sessions)
                    .where(kiosk_sessions.c.id == session_id)
                    .values(last_seen_at=_time(now), expires_at=_time(now + self.idle_timeout))
                )
            last_seen = now
        return Session(session_id, row.officer_id, _csrf_of(token), last_seen)

    def purge_expired_now(self) -> int:
        return self._delete(kiosk_sessions.c.expires_at < _time(self.clock()))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(kiosk_sessions.c.id)).all())

    def _delete(self, where: object) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(kiosk_sessions).where(where)).rowcount  # type: ignore[arg-type]


def csrf_matches(session: Session, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf_token, token)


def _hashed(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _csrf_of(token: str) -> str:
    return hmac.new(token.encode(), b"carec-kiosk-csrf", hashlib.sha256).hexdigest()


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
