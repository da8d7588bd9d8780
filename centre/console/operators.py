"""The console's operators: a login, a role and an Argon2id hash of their password (never the
password). `add_operator` creates one (the first one too: the CLI calls it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from centre.store.schema import console_operators
from edge.timeutil import utcnow

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 128


class Role(StrEnum):
    OPERATOR = "operator"  # sees everything, re-verifies, releases, discards, approves, rejects
    VIEWER = "viewer"  # reads only
    FLEET = "fleet"  # the fleet operator: enrols, configures, commands and revokes boxes
    AUDITOR = "auditor"  # reads the fleet and the audit; acts on nothing, sees no record

    @property
    def acts(self) -> bool:
        """May act on records (quarantine, the review queue)."""
        return self is Role.OPERATOR

    @property
    def acts_on_fleet(self) -> bool:
        """May act on boxes (enrolment, twin, commands, revocation)."""
        return self is Role.FLEET

    @property
    def reads_records(self) -> bool:
        """May read records and messages (quarantine, the review queue, traces): they may
        hold personal data, which the fleet's roles have no need of."""
        return self in (Role.OPERATOR, Role.VIEWER)


class OperatorError(ValueError):
    """An operator that cannot be created as asked, naming the field and the fix."""


@dataclass(frozen=True)
class Operator:
    login: str
    role: Role
    language: str
    active: bool = True


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise OperatorError(
            f"password: {len(password)} characters; use {MIN_PASSWORD_CHARS} to "
            f"{MAX_PASSWORD_CHARS}"
        )


def add_operator(
    engine: Engine,
    login: str,
    password: str,
    role: Role | str,
    *,
    language: str = "en",
    hasher: PasswordHasher | None = None,
) -> Operator:
    """Create an operator; OperatorError names what is wrong (a taken login included)."""
    if not LOGIN.match(login):
        raise OperatorError(
            f"login: {login!r} must be 1 to 64 lower-case letters, digits, '.', '_' or '-'"
        )
    try:
        role = Role(role)
    except ValueError:
        raise OperatorError(f"role: {role!r} is not one of {', '.join(Role)}") from None
    _check_password(password)
    if not re.fullmatch(r"[a-z]{2}", language):
        raise OperatorError(f"language: {language!r} is not a language code such as en or ru")
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(console_operators).values(
                    login=login, role=role.value,
                    password_hash=(hasher or PasswordHasher()).hash(password),
                    active=1, language=language, created_at=utcnow(),
                )
            )  # fmt: skip
    except IntegrityError:
        raise OperatorError(f"login: {login!r} is taken") from None
    return Operator(login, role, language)


class OperatorStore:
    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        # Verified against when the login is unknown, so that it takes as long as a real one.
        self._dummy_hash = self.hasher.hash("not-a-password")

    def get(self, login: str) -> Operator | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(console_operators).where(console_operators.c.login == login)
            ).first()
        if row is None:
            return None
        return Operator(row.login, Role(row.role), row.language, bool(row.active))

    def verify(self, login: str, password: str) -> Operator | None:
        """The active operator `login` if `password` is theirs, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(console_operators).where(console_operators.c.login == login)
            ).first()
        stored = row.password_hash if row is not None else self._dummy_hash
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        if self.hasher.check_needs_rehash(stored):
            self._set(login, password_hash=self.hasher.hash(password))
        return Operator(row.login, Role(row.role), row.language, True)

    def set_language(self, login: str, language: str) -> None:
        self._set(login, language=language)

    def set_active(self, login: str, active: bool) -> None:
        self._set(login, active=int(active))

    def _set(self, login: str, **values: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(console_operators).where(console_operators.c.login == login).values(values)
            )
