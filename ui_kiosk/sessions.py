"""Server-side sessions: the cookie carries only a random id and its signature.

A session holds the officer's id and a CSRF token. It ends at logout, or when nobody touched it
for the idle timeout (the live refreshes of the queue do not touch it: only what the officer
does). Everything lives in this process: a restart logs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE_NAME = "carec_kiosk_session"
Clock = Callable[[], float]


@dataclass
class Session:
    id: str
    officer_id: str
    csrf_token: str
    last_seen: float


class SessionStore:
    def __init__(self, secret: str, idle_timeout: float, clock: Clock = time.monotonic) -> None:
        self._key = hashlib.sha256(b"carec-kiosk-session:" + secret.encode()).digest()
        self.idle_timeout = idle_timeout
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, officer_id: str) -> Session:
        """A fresh session (never a reused id: no fixation)."""
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), officer_id, secrets.token_urlsafe(32), now)
        with self._lock:
            self._drop_expired(now)
            self._sessions[session.id] = session
        return session

    def cookie_value(self, session: Session) -> str:
        return f"{session.id}.{self._sign(session.id)}"

    def get(self, cookie: str | None, touch: bool = True) -> Session | None:
        """The live session of a cookie; None when it is forged, ended or idle too long."""
        if not cookie or cookie.count(".") != 1:
            return None
        session_id, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_timeout:
                del self._sessions[session_id]
                return None
            if touch:
                session.last_seen = now
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def end_officer(self, officer_id: str) -> None:
        with self._lock:
            for session_id in [s.id for s in self._sessions.values() if s.officer_id == officer_id]:
                del self._sessions[session_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _sign(self, session_id: str) -> str:
        digest = hmac.new(self._key, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _drop_expired(self, now: float) -> None:
        for session_id in [
            s.id for s in self._sessions.values() if now - s.last_seen > self.idle_timeout
        ]:
            del self._sessions[session_id]


def csrf_matches(session: Session, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf_token, token)
