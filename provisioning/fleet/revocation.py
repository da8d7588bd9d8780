"""The box takes a `revocation` from its centre: the serials and keys go into the trust store
file's [revoked] section (the file rewritten atomically, the rest of it as it was) and into the
trust store the inbox checks with, whose cached keys are forgotten at once, so the revoked
node's next message is quarantined.

Only the centre the box reports to may revoke (`issuers`); a revocation from anyone else is
refused (the inbox quarantines it). Revocations only ever add: applying one twice is harmless.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
from collections.abc import Collection, Iterable
from pathlib import Path

from sqlalchemy import Connection

from edge.logs import log_event
from provisioning.identity.errors import IdentityError
from provisioning.identity.files import PUBLIC, write_atomically
from provisioning.identity.trust import Revocations, TrustStore
from sync.envelope import Envelope
from sync.inbox import Applier
from sync.messages import RevocationMessage
from sync.setup import TrustedKeys

log = logging.getLogger(__name__)

_REVOKED_HEADER = re.compile(r"^\s*\[\s*revoked\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


def revocation_applier(keys: TrustedKeys, trust_file: Path, issuers: Collection[str]) -> Applier:
    """The inbox's applier of `revocation` messages (ValueError, so quarantine, for one from a
    node not in `issuers`)."""
    allowed = frozenset(issuers)

    def apply(_conn: Connection, envelope: Envelope) -> None:
        payload = envelope.payload
        assert isinstance(payload, RevocationMessage)
        if envelope.origin not in allowed:
            raise ValueError(f"{envelope.origin} may not revoke; only {', '.join(sorted(allowed))}")
        serials = {int(serial, 16) for serial in payload.serials}
        fingerprints = {bytes.fromhex(key) for key in payload.keys}
        revoke(keys, trust_file, serials, fingerprints)
        log_event(log, logging.WARNING, "fleet.revocation_applied", origin=envelope.origin,
                  serials=len(serials), keys=len(fingerprints))  # fmt: skip

    return apply


def revoke(
    keys: TrustedKeys, trust_file: Path, serials: Iterable[int], fingerprints: Iterable[bytes]
) -> Revocations:
    """Add to the file's and the inbox's revocations; the revocations now in force."""
    current = keys.trust.revoked
    wanted = Revocations(
        serials=current.serials | frozenset(serials),
        key_fingerprints=current.key_fingerprints | frozenset(fingerprints),
    )
    written = write_revoked(trust_file, wanted)
    keys.replace(dataclasses.replace(keys.trust, revoked=written))
    return written


def write_revoked(trust_file: Path, revocations: Revocations) -> Revocations:
    """Rewrite the file's [revoked] with what it held and `revocations` (a union), the rest of
    the file untouched; the file's revocations after. ValueError when the result would not
    load (nothing written then)."""
    text = trust_file.read_text(encoding="utf-8")
    before = TrustStore.load(trust_file).revoked
    union = Revocations(
        serials=before.serials | revocations.serials,
        key_fingerprints=before.key_fingerprints | revocations.key_fingerprints,
    )
    if union == before:
        return before
    new_text = _with_revoked(text, union)
    try:
        document = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{trust_file}: the rewritten trust store is not TOML ({error})") from None
    old_document = tomllib.loads(text)
    old_document.pop("revoked", None)
    document.pop("revoked", None)
    if document != old_document:
        raise ValueError(f"{trust_file}: [revoked] cannot be rewritten alone; fix its layout")
    write_atomically(trust_file, new_text.encode("utf-8"), mode=PUBLIC, overwrite=True)
    try:
        return TrustStore.load(trust_file).revoked
    except IdentityError as error:  # cannot be: the same file with a longer list
        raise ValueError(str(error)) from None


def _with_revoked(text: str, revocations: Revocations) -> str:
    lines = text.splitlines()
    kept: list[str] = []
    inside = False
    for line in lines:
        if _REVOKED_HEADER.match(line):
            inside = True
            continue
        if inside and _ANY_HEADER.match(line):
            inside = False
        if not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    serials = ", ".join(f'"{s:x}"' for s in sorted(revocations.serials))
    keys = ", ".join(f'"{k.hex()}"' for k in sorted(revocations.key_fingerprints))
    section = ["", "[revoked]", f"serials = [{serials}]", f"keys = [{keys}]", ""]
    return "\n".join([*kept, *section])
