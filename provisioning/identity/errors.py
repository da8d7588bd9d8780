"""What goes wrong with identities: every error names the input and, where there is one, the fix."""

from __future__ import annotations

from enum import StrEnum


class IdentityError(Exception):
    """Base of this room's errors; the message is one line fit for an operator."""


class InvalidNodeIdError(IdentityError, ValueError):
    """A node id that does not follow `<country>-<post>[-<n>]`."""


class AlreadyExistsError(IdentityError):
    """A key or certificate file is in the way and overwriting it was not asked for."""


class KeyFileError(IdentityError):
    """A key, CSR or certificate file that cannot be read or is of the wrong kind."""


class IssueError(IdentityError):
    """The CA refuses a certificate signing request."""


class TrustStoreError(IdentityError):
    """A trust store file that cannot be read or does not validate."""


class Reason(StrEnum):
    """Why a certificate or key is not trusted; stable names for counters and quarantine."""

    MALFORMED = "malformed"
    UNKNOWN_CA = "unknown CA"
    BAD_SIGNATURE = "bad signature"
    WRONG_COUNTRY = "wrong country"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    REVOKED = "revoked"
    NODE_MISMATCH = "node mismatch"
    PINNED_KEY_MISMATCH = "pinned key mismatch"
    UNKNOWN_NODE = "unknown node"


class UntrustedError(IdentityError):
    """A certificate or node key the trust store does not vouch for, and why."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
