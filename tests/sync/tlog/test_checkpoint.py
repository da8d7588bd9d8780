"""A node's checkpoint: the C2SP body (origin, size, root, extensions) read strictly,
signed by the node's key, verified against it; witnesses add tlog-cosignature v1 lines
that carry their time, and a checkpoint verifies with or without them."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from sync.tlog.cosignature import (
    Ed25519Cosigner,
    cosignatures,
    cosigned_message,
    timestamp_of,
)
from sync.tlog.merkle import EMPTY_ROOT
from sync.tlog.note import Ed25519NoteSigner, key_id, parse_note, sign_note

ORIGIN = "carec.example/kz-khorgos/box-1"
C2SP_EXAMPLE = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
ROOT = hashlib.sha256(b"some root").digest()


def seeded(byte: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([byte]) * 32)


LOG = Ed25519NoteSigner(ORIGIN, seeded(1))
WITNESS = Ed25519Cosigner("carec.example/uz-centre", seeded(2))
OTHER_WITNESS = Ed25519Cosigner("carec.example/kg-post", seeded(3))


def test_the_c2sp_example_body_reads_and_writes_back_unchanged() -> None:
    checkpoint = parse_checkpoint(C2SP_EXAMPLE)
    assert (checkpoint.origin, checkpoint.size, checkpoint.extensions) == (
        "example.com/behind-the-sofa",
        20852163,
        (),
    )
    assert checkpoint.body() == C2SP_EXAMPLE


def test_extension_lines_are_kept() -> None:
    body = C2SP_EXAMPLE + "ext one\next two\n"
    assert parse_checkpoint(body).extensions == ("ext one", "ext two")
    assert parse_checkpoint(body).body() == body


def test_the_empty_log_has_size_zero_and_the_empty_root() -> None:
    body = Checkpoint(ORIGIN, 0, EMPTY_ROOT).body()
    assert body == f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("example.com/log\n20852163\n", "lines"),
        (
            "example.com/log\n020852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "leading zeros",
        ),
        ("example.com/log\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "decimal"),
        ("example.com/log\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "decimal"),
        ("example.com/log\n 1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "decimal"),
        (
            "example.com/log\n99999999999999999999\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "decimal",
        ),
        (
            "example.com/log\n9223372036854775808\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "2\\*\\*63",
        ),
        ("example.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", "base64"),
        ("example.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", "canonical"),
        ("example.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n", "32"),
        ("\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "origin"),
        ("example.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n", "extension"),
        ("example.com/log\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "newline"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body: str, complaint: str) -> None:
    with pytest.raises(CheckpointError, match=complaint):
        parse_checkpoint(body)


def test_signed_checkpoint_verifies_against_the_log_key() -> None:
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT)
    signed = open_checkpoint(sign_checkpoint(checkpoint, LOG), LOG.verifier)
    assert signed.checkpoint == checkpoint


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    stranger = Ed25519NoteSigner(ORIGIN, seeded(9))
    data = sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), stranger)
    with pytest.raises(CheckpointError, match="no signature from a known key"):
        open_checkpoint(data, LOG.verifier)


def test_a_checkpoint_signed_only_by_a_witness_is_refused() -> None:
    checkpoint = Checkpoint(ORIGIN, 1, ROOT)
    data = sign_note(checkpoint.body(), [], keep=[WITNESS.cosign(checkpoint, 1700000000)])
    with pytest.raises(CheckpointError, match="not signed by the log key"):
        open_checkpoint(data, LOG.verifier, [WITNESS.verifier])


def test_a_changed_size_or_root_breaks_the_signature() -> None:
    data = sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT), LOG).decode()
    for forged in (
        data.replace("\n1234\n", "\n1235\n"),
        data.replace(ORIGIN + "\n", ORIGIN + "x\n", 1),
    ):
        with pytest.raises(CheckpointError, match="does not verify"):
            open_checkpoint(forged.encode(), LOG.verifier)


def test_cosignature_key_id_uses_type_0x04() -> None:
    raw = WITNESS.verifier.public_key.public_bytes_raw()
    expected = hashlib.sha256(WITNESS.name.encode() + b"\n\x04" + raw).digest()[:4]
    assert WITNESS.key_id == expected == key_id(WITNESS.name, 0x04, raw)
    assert WITNESS.key_id != key_id(WITNESS.name, 0x01, raw)


def test_cosigned_message_is_header_time_and_body() -> None:
    assert cosigned_message(C2SP_EXAMPLE.encode(), 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + C2SP_EXAMPLE.encode()
    )


def test_cosignature_line_carries_timestamp_then_ed25519_signature() -> None:
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT)
    signature = WITNESS.cosign(checkpoint, 1679315147)
    assert signature.signature[:8] == (1679315147).to_bytes(8, "big")
    assert len(signature.signature) == 72
    WITNESS.verifier.public_key.verify(
        signature.signature[8:], cosigned_message(checkpoint.body().encode(), 1679315147)
    )
    assert timestamp_of(signature.signature) == 1679315147


def test_witnessed_checkpoint_verifies_with_and_without_its_witnesses() -> None:
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT)
    logged = parse_note(sign_checkpoint(checkpoint, LOG)).signatures
    lines = [WITNESS.cosign(checkpoint, 1700000000), OTHER_WITNESS.cosign(checkpoint, 1700000001)]
    data = sign_note(checkpoint.body(), [], keep=[*logged, *lines])

    alone = open_checkpoint(data, LOG.verifier)
    assert len(alone.note.unverified) == 2

    witnessed = open_checkpoint(data, LOG.verifier, [WITNESS.verifier, OTHER_WITNESS.verifier])
    found = cosignatures(witnessed.note.verified, [WITNESS.verifier, OTHER_WITNESS.verifier])
    assert [(c.witness, c.timestamp) for c in found] == [
        ("carec.example/uz-centre", 1700000000),
        ("carec.example/kg-post", 1700000001),
    ]


def test_a_cosignature_for_another_checkpoint_is_refused() -> None:
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT)
    elsewhere = WITNESS.cosign(Checkpoint(ORIGIN, 1235, ROOT), 1700000000)
    logged = parse_note(sign_checkpoint(checkpoint, LOG)).signatures
    data = sign_note(checkpoint.body(), [], keep=[*logged, elsewhere])
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(data, LOG.verifier, [WITNESS.verifier])


def test_a_cosignature_with_a_changed_timestamp_is_refused() -> None:
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT)
    good = WITNESS.cosign(checkpoint, 1700000000).signature
    moved = (1800000000).to_bytes(8, "big") + good[8:]
    body = checkpoint.body().encode()
    assert WITNESS.verifier.verify(body, good)
    assert not WITNESS.verifier.verify(body, moved)
    assert not WITNESS.verifier.verify(body, good[:-1])


def test_a_plain_note_signature_does_not_pass_as_a_cosignature() -> None:
    as_note_key = Ed25519NoteSigner(WITNESS.name, seeded(2))
    checkpoint = Checkpoint(ORIGIN, 1, ROOT)
    logged = parse_note(sign_checkpoint(checkpoint, LOG)).signatures
    plain = parse_note(sign_checkpoint(checkpoint, as_note_key)).signatures
    data = sign_note(checkpoint.body(), [], keep=[*logged, *plain])
    opened = open_checkpoint(data, LOG.verifier, [WITNESS.verifier])
    assert cosignatures(opened.note.verified, [WITNESS.verifier]) == []
    assert base64.b64encode(plain[0].key_id) != base64.b64encode(WITNESS.key_id)
