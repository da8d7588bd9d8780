"""An auditor holding the node's log key checks a decision's proof offline: the entry, its
inclusion proof, the signed and co-signed checkpoint and the envelope itself. Every byte
changed in any of them is a failure that says what failed; so is another log's key."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.tlog.cosignature import Ed25519Cosigner
from sync.tlog.evidence import (
    SELF_ASSERTED,
    EvidenceError,
    chain,
    prove,
    verify_chain,
    verify_chain_document,
    verify_proof,
    witness_vkey,
)
from sync.tlog.note import Ed25519NoteVerifier
from sync.tlog.store import TransparencyLog, log_origin
from tests.sync.tlog.logs import NODE, T0, cosign, envelope, fill, make_log, message_id

WITNESS = "KZ-CIS"


@pytest.fixture
def witness() -> Ed25519Cosigner:
    return Ed25519Cosigner(WITNESS, Ed25519PrivateKey.generate())


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def log(tmp_path: Path, key: Ed25519PrivateKey, witness: Ed25519Cosigner) -> TransparencyLog:
    log = make_log(tmp_path / "box", key)
    fill(log, 0, 37)
    log.checkpoint(T0)
    cosign(log, 37, witness)
    fill(log, 37, 20)
    log.checkpoint(T0 + dt.timedelta(minutes=5))
    return log


def wkey(witness: Ed25519Cosigner) -> str:
    return witness_vkey(witness.name, witness.verifier.public_key)


def test_a_decision_proves_with_the_log_key_the_witness_and_its_envelope(
    log: TransparencyLog, witness: Ed25519Cosigner
) -> None:
    [document] = prove(log, message_id(12))
    # The checkpoint chosen is the cosigned one, though a later one exists.
    assert document["witnesses"] == [WITNESS]
    verified = verify_proof(json.loads(json.dumps(document)), log.vkey, [wkey(witness)],
                            envelope(12))  # fmt: skip
    assert (verified.leaf_index, verified.checkpoint_size) == (12, 37)
    assert verified.witnesses == [WITNESS]
    assert verified.envelope == "matches"
    assert verified.log_key_source == "given key"


def test_without_a_key_given_the_embedded_one_is_reported_as_self_asserted(
    log: TransparencyLog,
) -> None:
    [document] = prove(log, message_id(50))
    verified = verify_proof(document)
    assert verified.log_key_source == SELF_ASSERTED
    assert verified.checkpoint_size == 57  # no cosigned checkpoint covers it: the latest
    assert verified.unverified_signers == []


def test_a_just_appended_entry_needs_a_checkpoint_and_the_error_says_how(
    log: TransparencyLog,
) -> None:
    fill(log, 57, 1)
    with pytest.raises(EvidenceError, match=r"leaf 57\): no checkpoint covers it.*log checkpoint"):
        prove(log, message_id(57))
    assert log.queued() == 0  # integrated by prove
    log.checkpoint(T0 + dt.timedelta(minutes=10))
    [document] = prove(log, message_id(57))
    assert verify_proof(document, log.vkey).leaf_index == 57


def test_an_unknown_message_is_named(log: TransparencyLog) -> None:
    with pytest.raises(EvidenceError, match=f"message {message_id(999)}: not in the log of {NODE}"):
        prove(log, message_id(999))


def flip_hex(text: str, at: int = 5) -> str:
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]


def tamper_entry_party(d: dict[str, Any]) -> None:
    d["entry"]["party"] = "KG-TORUGART-2"


def tamper_entry_digest(d: dict[str, Any]) -> None:
    d["entry"]["envelope_sha256"] = flip_hex(d["entry"]["envelope_sha256"])


def tamper_entry_index(d: dict[str, Any]) -> None:
    d["entry"]["leaf_index"] += 1


def tamper_proof(d: dict[str, Any]) -> None:
    d["inclusion"][2] = flip_hex(d["inclusion"][2])


def tamper_proof_length(d: dict[str, Any]) -> None:
    d["inclusion"].pop()


def tamper_checkpoint_size(d: dict[str, Any]) -> None:
    d["checkpoint"] = d["checkpoint"].replace("\n37\n", "\n38\n", 1)


def tamper_checkpoint_root(d: dict[str, Any]) -> None:
    origin, size, root, rest = d["checkpoint"].split("\n", 3)
    root = root[:3] + ("A" if root[3] != "A" else "B") + root[4:]
    d["checkpoint"] = "\n".join((origin, size, root, rest))


def tamper_cosignature(d: dict[str, Any]) -> None:
    lines = d["checkpoint"].split("\n")
    last = lines[-2]
    lines[-2] = last[:-6] + ("A" if last[-6] != "A" else "B") + last[-5:]
    d["checkpoint"] = "\n".join(lines)


@pytest.mark.parametrize(
    ("tamper", "failure"),
    [
        (tamper_entry_party, r"entry 12 .* in checkpoint of size 37: inclusion proof"),
        (tamper_entry_digest, r"entry 12 .* root does not match"),
        (tamper_entry_index, r"entry 13 .* root does not match"),
        (tamper_proof, r"entry 12 .* root does not match"),
        (tamper_proof_length, r"entry 12 .* too short"),
        (tamper_checkpoint_size, r"checkpoint: .*signature of carec-edge/KZ-NURZHOLY-1\+\w+: does not verify"),
        (tamper_checkpoint_root, r"checkpoint: .*signature of carec-edge/KZ-NURZHOLY-1\+\w+: does not verify"),
        (tamper_cosignature, r"checkpoint: .*signature of KZ-CIS\+\w+: does not verify"),
    ],
)  # fmt: skip
def test_a_changed_byte_anywhere_is_a_named_failure(
    log: TransparencyLog, witness: Ed25519Cosigner, tamper: Any, failure: str
) -> None:
    [document] = prove(log, message_id(12))
    verify_proof(document, log.vkey, [wkey(witness)], envelope(12))
    changed = copy.deepcopy(document)
    tamper(changed)
    with pytest.raises(EvidenceError, match=failure):
        verify_proof(changed, log.vkey, [wkey(witness)], envelope(12))


def test_another_envelope_than_the_logged_one_fails(log: TransparencyLog) -> None:
    [document] = prove(log, message_id(12))
    altered = envelope(12).replace(b"decision", b"decisioN")
    with pytest.raises(EvidenceError, match=r"envelope: SHA-256 \w+ is not entry 12's"):
        verify_proof(document, log.vkey, envelope=altered)


def test_another_logs_key_fails_even_when_the_document_embeds_a_matching_one(
    log: TransparencyLog, tmp_path: Path
) -> None:
    [document] = prove(log, message_id(12))
    impostor = make_log(tmp_path / "other")  # the same node name, another key
    assert impostor.vkey != log.vkey
    with pytest.raises(EvidenceError, match="no signature from a known key"):
        verify_proof(document, impostor.vkey)
    # Another node's key: its name is not the checkpoint's signer either.
    other = Ed25519NoteVerifier(
        log_origin("KG-TORUGART-1"), Ed25519PrivateKey.generate().public_key()
    )
    with pytest.raises(EvidenceError, match=r"checkpoint: .*no signature from a known key"):
        verify_proof(document, other.vkey())


def test_a_witness_that_did_not_cosign_is_a_failure(log: TransparencyLog) -> None:
    [document] = prove(log, message_id(12))
    stranger = Ed25519Cosigner("KG-CIS", Ed25519PrivateKey.generate())
    with pytest.raises(EvidenceError, match="checkpoint of size 37: no cosignature of KG-CIS"):
        verify_proof(document, log.vkey, [wkey(stranger)])


def test_a_checkpoint_chain_verifies_and_a_forked_one_does_not(
    log: TransparencyLog, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    fill(log, 57, 200)
    log.checkpoint(T0 + dt.timedelta(minutes=10))
    document = chain(log)
    assert verify_chain_document(document, log.vkey).sizes == [37, 57, 257]

    # The same key signs a second history of the same first 37 entries but a different 38th:
    # each checkpoint is validly signed, and only the consistency proof tells them apart.
    fork = make_log(tmp_path / "fork", key)
    fill(fork, 0, 37)
    fork.checkpoint(T0)
    fill(fork, 100, 20)
    forked = fork.cosigned_note(fork.checkpoint(T0 + dt.timedelta(minutes=5)).size)
    notes = [n.encode() for n in document["checkpoints"]]
    proofs = [[bytes.fromhex(h) for h in p] for p in document["consistency"]]
    with pytest.raises(EvidenceError, match=r"checkpoints 37 -> 57: not consistent"):
        verify_chain([notes[0], forked], log.vkey, [proofs[0]])
    with pytest.raises(EvidenceError, match=r"checkpoints 257 -> 37: the log shrank"):
        verify_chain([notes[2], notes[0]], log.vkey, [proofs[0]])
