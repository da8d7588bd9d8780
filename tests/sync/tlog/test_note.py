"""Signed notes read and written byte for byte as Go's golang.org/x/mod/sumdb/note does
(its published key, text and signatures), and refused when malformed, oversized, or signed
by a known key whose signature fails; unknown signers are ignored, as the spec says."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.tlog.note import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    NoteError,
    NoteSignature,
    key_id,
    open_note,
    parse_note,
    parse_vkey,
    sign_note,
)

GO: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "golang-sumdb-note.json").read_text()
)
TEXT: str = GO["text"]
PETER_LINE: str = GO["signature_lines"]["PeterNeumann"]
ENOCH_LINE: str = GO["signature_lines"]["EnochRoot"]


def go_signer() -> Ed25519NoteSigner:
    _, _, name, _, encoded = GO["signer_key"].split("+", 4)
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01
    return Ed25519NoteSigner(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))


PETER = parse_vkey(GO["verifier_keys"]["PeterNeumann"])
ENOCH = parse_vkey(GO["verifier_keys"]["EnochRoot"])


def test_signing_go_text_with_go_key_gives_go_bytes() -> None:
    signer = go_signer()
    assert signer.key_id.hex() == "c74f20a3"
    assert sign_note(TEXT, [signer]).decode() == GO["signed_by_peter"]
    assert signer.verifier.vkey() == GO["verifier_keys"]["PeterNeumann"]


def test_signing_again_replaces_the_old_line_of_that_key() -> None:
    signer = go_signer()
    stale = NoteSignature(signer.name, signer.key_id, b"BADSIGN")
    assert sign_note(TEXT, [signer], keep=[stale]).decode() == GO["signed_by_peter"]


def test_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    assert key_id("PeterNeumann", 0x01, PETER.public_key.public_bytes_raw()).hex() == "c74f20a3"
    assert ENOCH.key_id.hex() == "af0cfe78"


def test_one_known_signer_verifies_and_the_other_is_kept_unverified() -> None:
    note = open_note((TEXT + "\n" + PETER_LINE + ENOCH_LINE).encode(), [PETER])
    assert note.text == TEXT
    assert [s.name for s in note.verified] == ["PeterNeumann"]
    assert [s.name for s in note.unverified] == ["EnochRoot"]


def test_both_known_signers_verify() -> None:
    note = open_note((TEXT + "\n" + PETER_LINE + ENOCH_LINE).encode(), [PETER, ENOCH])
    assert [s.name for s in note.verified] == ["PeterNeumann", "EnochRoot"]
    assert note.unverified == ()


def test_a_note_without_a_known_signer_is_refused() -> None:
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note((TEXT + "\n" + PETER_LINE + ENOCH_LINE).encode(), [])


def test_same_name_other_key_is_an_unknown_signer() -> None:
    impostor = Ed25519NoteVerifier("PeterNeumann", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note((TEXT + "\n" + PETER_LINE).encode(), [impostor])


def test_a_known_key_whose_signature_fails_rejects_the_note() -> None:
    broken = PETER_LINE[:60] + "ABCD" + PETER_LINE[60:]
    with pytest.raises(NoteError, match="does not verify"):
        open_note((TEXT + "\n" + broken).encode(), [PETER])
    altered = TEXT.replace("answer", "Answer")
    with pytest.raises(NoteError, match="does not verify"):
        open_note((altered + "\n" + PETER_LINE).encode(), [PETER])


def test_a_key_configured_twice_is_an_error() -> None:
    with pytest.raises(NoteError, match="configured twice"):
        open_note((TEXT + "\n" + PETER_LINE).encode(), [PETER, ENOCH, PETER])


@pytest.mark.parametrize("tail", GO["malformed_after_text"])
def test_go_malformed_notes_are_refused(tail: str) -> None:
    with pytest.raises(NoteError):
        open_note((TEXT + tail).encode(), [PETER])


@pytest.mark.parametrize(
    "data",
    [
        b"\x01" + (TEXT + "\n" + PETER_LINE).encode(),
        b"\xff" + (TEXT + "\n" + PETER_LINE).encode(),
        (TEXT + "\n" + PETER_LINE.replace("\u2014", "-")).encode(),
        (TEXT + "\n" + PETER_LINE.replace("PeterNeumann", "Peter+Neumann")).encode(),
        (TEXT + "\n" + PETER_LINE.replace("x08go", "x08g!")).encode(),
        (TEXT + "\n\u2014 PeterNeumann AAAA\n").encode(),
        (TEXT + "\n" + PETER_LINE).encode().replace(b"\n", b"\r\n"),
    ],
    ids=[
        "control byte",
        "not utf-8",
        "hyphen not em dash",
        "plus in name",
        "bad base64",
        "no signature bytes",
        "crlf",
    ],
)
def test_malformed_notes_are_refused(data: bytes) -> None:
    with pytest.raises(NoteError):
        parse_note(data)


def test_too_many_signatures_are_refused_before_any_is_checked() -> None:
    note = (TEXT + "\n" + PETER_LINE * (MAX_SIGNATURES + 1)).encode()
    with pytest.raises(NoteError, match="over the limit"):
        open_note(note, [PETER])
    assert len(open_note((TEXT + "\n" + PETER_LINE * 16).encode(), [PETER]).verified) == 1


def test_an_oversized_note_is_refused() -> None:
    with pytest.raises(NoteError, match="over the limit"):
        parse_note(b"a" * (MAX_NOTE_BYTES + 1))


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_mangled_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


def test_text_must_end_with_a_newline() -> None:
    with pytest.raises(NoteError):
        sign_note("abc", [go_signer()])
