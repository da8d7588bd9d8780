"""Evidence a third party can check offline: an entry of a node's log with its inclusion proof
in a signed, co-signed checkpoint ("carec-tlog-proof/1"), and a chain of checkpoints each
consistent with the one before ("carec-tlog-chain/1").

Whoever holds the node's log key (its note verifier key, `TransparencyLog.vkey`) needs nothing
else: no database, no config. With the envelope itself the auditor also checks that the entry
is about those exact bytes. Every failure names what failed (the entry's leaf index, the
checkpoint's size, the witness) because an auditor reads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync.tlog.checkpoint import CheckpointError, SignedCheckpoint, open_checkpoint
from sync.tlog.cosignature import (
    COSIGNATURE_TYPE,
    Ed25519CosignatureVerifier,
    cosignatures,
)
from sync.tlog.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from sync.tlog.note import Ed25519NoteVerifier, NoteError, parse_vkey, raw_public_key
from sync.tlog.store import TransparencyLog, entry_leaf

PROOF_FORMAT = "carec-tlog-proof/1"
CHAIN_FORMAT = "carec-tlog-chain/1"
SELF_ASSERTED = "self-asserted key"  # the key came with the evidence: it proves nothing alone
GIVEN = "given key"


class EvidenceError(ValueError):
    """Evidence that cannot be made, or that does not prove what it claims (and why)."""


# -- witness keys ------------------------------------------------------------------------------


def witness_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """A witness's cosignature verifier key, "name+keyid+base64(0x04 || key)"."""
    verifier = Ed25519CosignatureVerifier(name, public_key)
    encoded = base64.b64encode(bytes([COSIGNATURE_TYPE]) + raw_public_key(public_key)).decode()
    return f"{name}+{verifier.key_id.hex()}+{encoded}"


def parse_witness_vkey(vkey: str) -> Ed25519CosignatureVerifier:
    """Read a witness key (tlog-cosignature/v1, type 0x04), checking the key ID it states."""
    name, _, rest = vkey.partition("+")
    hex_id, _, encoded = rest.partition("+")
    try:
        raw = base64.b64decode(encoded, validate=True)
        stated = bytes.fromhex(hex_id)
    except (ValueError, binascii.Error):
        raise EvidenceError(f"witness key {vkey!r}: expected name+8 hex digits+base64") from None
    if len(raw) != 33 or raw[0] != COSIGNATURE_TYPE:
        raise EvidenceError(f"witness key {vkey!r}: not a tlog-cosignature/v1 (0x04) key")
    try:
        verifier = Ed25519CosignatureVerifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    except NoteError as e:
        raise EvidenceError(f"witness key {vkey!r}: {e}") from None
    if verifier.key_id != stated:
        raise EvidenceError(f"witness key {vkey!r}: key ID does not match name and key")
    return verifier


def log_verifier(vkey: str) -> Ed25519NoteVerifier:
    try:
        return parse_vkey(vkey.strip())
    except NoteError as e:
        raise EvidenceError(f"log key: {e}") from None


# -- proving -----------------------------------------------------------------------------------


def prove(log: TransparencyLog, message_id: str) -> list[dict[str, Any]]:
    """One proof document for each entry of `message_id` in `log` (signed here, applied here),
    each in the checkpoint with the most cosignatures that includes it."""
    log.integrate_all()  # a just-appended entry gets its leaf index
    entries = log.entries_of(message_id)
    if not entries:
        raise EvidenceError(f"message {message_id}: not in the log of {log.node_id}")
    documents = []
    for entry in entries:
        if entry.leaf_index is None:
            raise EvidenceError(f"message {message_id} ({entry.kind}): not integrated yet")
        stored = log.best_checkpoint_for(entry.leaf_index)
        if stored is None:
            raise EvidenceError(
                f"message {message_id} ({entry.kind}, leaf {entry.leaf_index}): no checkpoint "
                "covers it yet; sign one with `carec-edge log checkpoint`"
            )
        documents.append({
            "format": PROOF_FORMAT,
            "log_origin": log.origin,
            "log_vkey": log.vkey,
            "entry": entry.to_dict(),
            "checkpoint": log.cosigned_note(stored.size).decode(),
            "inclusion": [h.hex() for h in log.inclusion_proof(entry.leaf_index, stored.size)],
            "witnesses": log.cosigners(stored.size),
        })  # fmt: skip
    return documents


def chain(log: TransparencyLog, since: int = 0) -> dict[str, Any]:
    """Every checkpoint of size >= `since` (cosigned), each consecutive pair with its
    consistency proof."""
    stored = [c for c in log.checkpoints() if c.size >= since]
    if not stored:
        raise EvidenceError(f"log of {log.node_id}: no checkpoint of size {since} or more")
    return {
        "format": CHAIN_FORMAT,
        "log_origin": log.origin,
        "log_vkey": log.vkey,
        "checkpoints": [log.cosigned_note(c.size).decode() for c in stored],
        "consistency": [
            [h.hex() for h in log.consistency_proof(old.size, new.size)]
            for old, new in itertools.pairwise(stored)
        ],
    }


# -- verifying ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """What a proof showed: the entry, in which checkpoint, under whose key and cosignatures."""

    message_id: str
    kind: str
    leaf_index: int
    checkpoint_size: int
    root_hash: str
    log_key: str  # name+key ID
    log_key_source: str  # GIVEN or SELF_ASSERTED
    witnesses: list[str]  # cosignatures verified with the witness keys given
    unverified_signers: list[str]  # signature lines of keys the caller did not give
    envelope: str  # "matches" or "not given"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def open_signed_checkpoint(
    note: bytes, log: Ed25519NoteVerifier, witnesses: Sequence[Ed25519CosignatureVerifier]
) -> SignedCheckpoint:
    """The checkpoint verified with the log key and every given witness key (each of which
    must have cosigned it)."""
    try:
        signed = open_checkpoint(note, log, witnesses)
    except (CheckpointError, NoteError) as e:
        raise EvidenceError(f"checkpoint: {e}") from None
    size = signed.checkpoint.size
    if signed.checkpoint.origin != log.name:
        raise EvidenceError(
            f"checkpoint of size {size}: origin {signed.checkpoint.origin!r} is not the log "
            f"key's name {log.name!r}"
        )
    cosigned = {c.witness for c in cosignatures(signed.note.verified, witnesses)}
    for witness in witnesses:
        if witness.name not in cosigned:
            raise EvidenceError(f"checkpoint of size {size}: no cosignature of {witness.name}")
    return signed


def _field(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if not isinstance(value, kind):
        raise EvidenceError(f"proof document: {name!r} missing or not a {kind.__name__}")
    return value


def _hashes(what: str, values: Any) -> list[bytes]:
    if not isinstance(values, list):
        raise EvidenceError(f"{what}: not a list of hex hashes")
    try:
        return [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError):
        raise EvidenceError(f"{what}: not a list of hex hashes") from None


def _key(document: dict[str, Any], log_vkey: str | None) -> tuple[Ed25519NoteVerifier, str]:
    if log_vkey is not None:
        return log_verifier(log_vkey), GIVEN
    return log_verifier(_field(document, "log_vkey", str)), SELF_ASSERTED


def verify_proof(
    document: dict[str, Any],
    log_vkey: str | None = None,
    witness_vkeys: Iterable[str] = (),
    envelope: bytes | None = None,
) -> Verified:
    """Check a proof document offline; EvidenceError names the first check that failed."""
    if not isinstance(document, dict) or document.get("format") != PROOF_FORMAT:
        raise EvidenceError(f"proof document: format is not {PROOF_FORMAT!r}")
    log, source = _key(document, log_vkey)
    witnesses = [parse_witness_vkey(v) for v in witness_vkeys]
    signed = open_signed_checkpoint(_field(document, "checkpoint", str).encode(), log, witnesses)
    checkpoint = signed.checkpoint
    entry = _field(document, "entry", dict)
    try:
        index = entry["leaf_index"]
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError
        envelope_sha256 = bytes.fromhex(entry["envelope_sha256"])
        leaf = entry_leaf(
            entry["kind"], entry["message_id"], entry["type"], entry["party"], envelope_sha256
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise EvidenceError(
            "entry: needs leaf_index, kind, message_id, type, party and envelope_sha256 (hex)"
        ) from None
    proof = _hashes(f"inclusion proof of leaf {index}", document.get("inclusion"))
    try:
        verify_inclusion(index, checkpoint.size, leaf_hash(leaf), proof, checkpoint.root_hash)
    except ProofError as e:
        raise EvidenceError(
            f"entry {index} ({entry['message_id']}, {entry['kind']}) in checkpoint of size "
            f"{checkpoint.size}: {e} (the entry or its proof is not what the log holds)"
        ) from None
    envelope_state = "not given"
    if envelope is not None:
        actual = hashlib.sha256(envelope).digest()
        if actual != envelope_sha256:
            raise EvidenceError(
                f"envelope: SHA-256 {actual.hex()} is not entry {index}'s {envelope_sha256.hex()}"
            )
        envelope_state = "matches"
    known = {(w.name, w.key_id) for w in witnesses}
    return Verified(
        message_id=entry["message_id"], kind=entry["kind"], leaf_index=index,
        checkpoint_size=checkpoint.size, root_hash=checkpoint.root_hash.hex(),
        log_key=f"{log.name}+{log.key_id.hex()}", log_key_source=source,
        witnesses=[c.witness for c in cosignatures(signed.note.verified, witnesses)],
        unverified_signers=[
            s.name for s in signed.note.unverified if (s.name, s.key_id) not in known
        ],
        envelope=envelope_state,
    )  # fmt: skip


@dataclass(frozen=True)
class ChainVerified:
    sizes: list[int]
    log_key: str
    log_key_source: str
    witnesses: dict[int, list[str]] = field(default_factory=dict)  # size -> cosigners verified

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "witnesses": {str(k): v for k, v in self.witnesses.items()}}


def verify_chain(
    notes: Sequence[bytes],
    log_vkey: str,
    proofs: Sequence[Sequence[bytes]],
    witness_vkeys: Iterable[str] = (),
    key_source: str = GIVEN,
) -> ChainVerified:
    """Each checkpoint signed by the log (and cosigned by every given witness), sizes growing,
    and each consistent with the one before by its proof in `proofs`."""
    log = log_verifier(log_vkey)
    witnesses = [parse_witness_vkey(v) for v in witness_vkeys]
    if not notes:
        raise EvidenceError("checkpoint chain: empty")
    if len(proofs) != len(notes) - 1:
        raise EvidenceError(
            f"checkpoint chain: {len(notes)} checkpoints need {len(notes) - 1} consistency "
            f"proofs, it has {len(proofs)}"
        )
    opened = []
    for i, note in enumerate(notes):
        try:
            opened.append(open_signed_checkpoint(note, log, witnesses))
        except EvidenceError as e:
            raise EvidenceError(f"checkpoint chain[{i}]: {e}") from None
    for (old, new), proof in zip(itertools.pairwise(opened), proofs, strict=True):
        a, b = old.checkpoint, new.checkpoint
        if b.size < a.size:
            raise EvidenceError(f"checkpoints {a.size} -> {b.size}: the log shrank")
        try:
            verify_consistency(a.size, b.size, list(proof), a.root_hash, b.root_hash)
        except ProofError as e:
            raise EvidenceError(f"checkpoints {a.size} -> {b.size}: not consistent: {e}") from None
    return ChainVerified(
        sizes=[s.checkpoint.size for s in opened],
        log_key=f"{log.name}+{log.key_id.hex()}",
        log_key_source=key_source,
        witnesses={
            s.checkpoint.size: [c.witness for c in cosignatures(s.note.verified, witnesses)]
            for s in opened
        },
    )


def verify_chain_document(
    document: dict[str, Any], log_vkey: str | None = None, witness_vkeys: Iterable[str] = ()
) -> ChainVerified:
    if not isinstance(document, dict) or document.get("format") != CHAIN_FORMAT:
        raise EvidenceError(f"chain document: format is not {CHAIN_FORMAT!r}")
    _, source = _key(document, log_vkey)
    vkey = log_vkey if log_vkey is not None else document["log_vkey"]
    notes = _field(document, "checkpoints", list)
    if not all(isinstance(n, str) for n in notes):
        raise EvidenceError("chain document: 'checkpoints' must be note texts")
    proofs = [
        _hashes(f"consistency proof {i}", p)
        for i, p in enumerate(_field(document, "consistency", list))
    ]
    return verify_chain([n.encode() for n in notes], vkey, proofs, witness_vkeys, source)
