"""Officers: who may log in to the kiosk, with which role and language.

An officer logs in with an id or a badge code (a badge scanner types it) and a PIN. The PIN is
kept only as an Argon2 hash; a wrong PIN, an unknown login and a disabled officer all look the
same to the caller, and take the same time. An officer is never deleted (their decisions name
them); one who leaves is deactivated, and can no longer log in.

The demo officers have PINs printed in the README, so they go only into a data directory the
demo made: `carec-edge demo` leaves a marker file (`DEMO_MARKER`) in each it creates, and
`carec-edge kiosk --demo-officers` refuses any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from edge.store.schema import officers
from edge.timeutil import utcnow

OFFICER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
BADGE = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
PIN = re.compile(r"^[0-9]{4,12}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Za-z]{2,4})?$")


class Role(StrEnum):
    OFFICER = "officer"  # decides on trucks
    SUPERVISOR = "supervisor"  # decides, overrides the lane's minimum, reopens decisions
    TECHNICIAN = "technician"  # sees device and sync status; never decides

    @property
    def decides(self) -> bool:
        return self in (Role.OFFICER, Role.SUPERVISOR)


@dataclass(frozen=True)
class Officer:
    id: str
    name: str
    badge: str | None
    role: Role
    language: str
    active: bool = True


class OfficerError(ValueError):
    """An officer that cannot be stored; the message names the field and what is expected."""


@dataclass(frozen=True)
class DemoOfficer:
    id: str
    name: str
    badge: str
    role: Role
    pin: str


# The demo's people; `seed_demo_officers` stores them. Never on a real box.
DEMO_OFFICERS = (
    DemoOfficer("demo", "Айгерим Нурланова", "BADGE-0001", Role.OFFICER, "1234"),
    DemoOfficer("demo-supervisor", "Марат Ахметов", "BADGE-0002", Role.SUPERVISOR, "5678"),
    DemoOfficer("demo-technician", "Daniyar Seitkali", "BADGE-0003", Role.TECHNICIAN, "9012"),
)


DEMO_MARKER = "CAREC-EDGE-DEMO"
_MARKER_TEXT = (
    "This data directory was made by `carec-edge demo`: its officers have known PINs.\n"
    "Never use it, or copy it, on a real box.\n"
)


class NotADemoDirectoryError(OfficerError):
    """Demo officers asked for in a data directory the demo did not make."""


def mark_demo_data_dir(data_dir: Path) -> None:
    """Mark `data_dir` (made if missing) as the demo's: demo officers may go into it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


def is_demo_data_dir(data_dir: Path) -> bool:
    return (data_dir / DEMO_MARKER).is_file()


def require_demo_data_dir(data_dir: Path) -> None:
    """Raise NotADemoDirectoryError, saying what to do instead, unless the demo made it."""
    if not is_demo_data_dir(data_dir):
        raise NotADemoDirectoryError(
            f"{data_dir} was not made by `carec-edge demo` (it has no {DEMO_MARKER} file): the "
            "demo officers' PINs are public, so they never go into a real box's store; add "
            "officers with `carec-edge kiosk officer add ID --name NAME --role ROLE`"
        )


def _check(officer_id: str, name: str, badge: str | None, language: str) -> None:
    if not OFFICER_ID.match(officer_id):
        raise OfficerError(f"id: {officer_id!r} must be 1 to 32 letters, digits, '_', '.' or '-'")
    if not name.strip() or len(name) > 128:
        raise OfficerError("name: must be 1 to 128 characters")
    if badge is not None and not BADGE.match(badge):
        raise OfficerError(f"badge: {badge!r} must be 1 to 64 letters, digits or _ . : / -")
    if not LANGUAGE.match(language):
        raise OfficerError(f"language: {language!r} is not a language code such as ru or uz")


class OfficerStore:
    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        # Verified against when the login is unknown, so that it takes as long as a real one.
        self._dummy_hash = self.hasher.hash("0000")

    def create(
        self,
        officer_id: str,
        name: str,
        pin: str,
        role: Role = Role.OFFICER,
        badge: str | None = None,
        language: str = "en",
    ) -> Officer:
        _check(officer_id, name, badge, language)
        if not PIN.match(pin):
            raise OfficerError("pin: must be 4 to 12 digits")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(officers).values(
                        id=officer_id,
                        name=name.strip(),
                        badge=badge,
                        role=role.value,
                        language=language,
                        pin_hash=self.hasher.hash(pin),
                        active=True,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            raise OfficerError(f"id or badge: {officer_id!r} or {badge!r} is taken") from None
        return Officer(officer_id, name.strip(), badge, role, language)

    def get(self, officer_id: str) -> Officer | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(officers).where(officers.c.id == officer_id)).one_or_none()
        return None if row is None else _officer(row)

    def all(self) -> list[Officer]:
        """Every officer, active or not, by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(officers).order_by(officers.c.id)).all()
        return [_officer(row) for row in rows]

    def by_badge(self, badge: str) -> Officer | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(officers).where(officers.c.badge == badge)).one_or_none()
        return None if row is None else _officer(row)

    def verify(self, login: str, pin: str) -> Officer | None:
        """The active officer whose id or badge is `login` and whose PIN is `pin`, else None."""
        login = login.strip()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(officers).where(or_(officers.c.id == login, officers.c.badge == login))
            ).first()
        stored = row.pin_hash if row is not None else self._dummy_hash
        try:
            self.hasher.verify(stored, pin)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        if self.hasher.check_needs_rehash(stored):
            self._set(row.id, pin_hash=self.hasher.hash(pin))
        return _officer(row)

    def set_language(self, officer_id: str, language: str) -> None:
        if not LANGUAGE.match(language):
            raise OfficerError(f"language: {language!r} is not a language code such as ru or uz")
        self._set(officer_id, language=language)

    def set_pin(self, officer_id: str, pin: str) -> None:
        if not PIN.match(pin):
            raise OfficerError("pin: must be 4 to 12 digits")
        self._set(officer_id, pin_hash=self.hasher.hash(pin))

    def set_active(self, officer_id: str, active: bool) -> None:
        self._set(officer_id, active=active)

    def _set(self, officer_id: str, **values: object) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(officers).where(officers.c.id == officer_id).values(values)
            )
        if result.rowcount != 1:
            raise OfficerError(f"id: no officer {officer_id!r}")


def seed_demo_officers(store: OfficerStore, language: str = "en") -> list[Officer]:
    """Store the demo officers that are not there yet; the ones added."""
    added = []
    for demo in DEMO_OFFICERS:
        if store.get(demo.id) is None:
            added.append(
                store.create(demo.id, demo.name, demo.pin, demo.role, demo.badge, language)
            )
    return added


def _officer(row: Row[Any]) -> Officer:
    return Officer(
        id=row.id,
        name=row.name,
        badge=row.badge,
        role=Role(row.role),
        language=row.language,
        active=bool(row.active),
    )
