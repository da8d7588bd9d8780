"""C2SP signed-note (c2sp.org/signed-note): text, a blank line, then signature lines
"— <key name> base64(key ID || signature)". Parsing is strict and bounded; verification
follows the spec: unknown keys are ignored, a known key that fails rejects the whole note,
and a note with no verified signature is refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_TYPE = 0x01
MAX_NOTE_BYTES = 64 * 1024  # a checkpoint with a hundred cosignatures is under 12 KiB
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
_DASH = "\u2014 "


class NoteError(ValueError):
    """A note that is malformed, or whose signatures do not verify."""


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes  # 4 bytes, big-endian uint32 in the spec's words
    signature: bytes  # what follows the key ID: the algorithm's signature

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_DASH}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    text: str  # ends with a newline; the blank separator line is not part of it
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> bytes:
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()


class NoteVerifier(Protocol):
    """A known key: its name and key ID select the signature lines it must check."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    def verify(self, text: bytes, signature: bytes) -> bool: ...


class NoteSigner(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    def sign(self, text: bytes) -> bytes: ...


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """SHA-256(key name || 0x0A || signature type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


def check_key_name(name: str) -> None:
    if not name:
        raise NoteError("key name: empty")
    if "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"key name {name!r}: must hold no spaces and no '+'")
    _check_characters(f"key name {name!r}", name)


def _check_characters(what: str, text: str) -> None:
    bad = next((c for c in text if c < " " and c != "\n"), None)
    if bad is not None:
        raise NoteError(f"{what}: control character {ord(bad):#04x}")


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class Ed25519NoteVerifier:
    """Signature type 0x01: plain Ed25519 over the note text."""

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        check_key_name(name)
        self.name = name
        self.public_key = public_key
        self.key_id = key_id(name, ED25519_TYPE, raw_public_key(public_key))

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        """The verifier key string Go's note package and C2SP tools exchange."""
        encoded = base64.b64encode(bytes([ED25519_TYPE]) + raw_public_key(self.public_key))
        return f"{self.name}+{self.key_id.hex()}+{encoded.decode()}"


class Ed25519NoteSigner:
    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.verifier = Ed25519NoteVerifier(name, private_key.public_key())
        self.name = name
        self.key_id = self.verifier.key_id

    def sign(self, text: bytes) -> bytes:
        return self._key.sign(text)


def parse_vkey(vkey: str) -> Ed25519NoteVerifier:
    """Read "name+keyid+base64(0x01 || public key)", checking the key ID it states."""
    name, sep, rest = vkey.partition("+")
    hex_id, sep2, encoded = rest.partition("+")
    if not (sep and sep2) or len(hex_id) != 8 or hex_id != hex_id.lower():
        raise NoteError(f"verifier key {vkey!r}: expected name+8 hex digits+base64 key")
    try:
        stated_id = bytes.fromhex(hex_id)
        raw = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as e:
        raise NoteError(f"verifier key {vkey!r}: {e}") from None
    if len(raw) != 33 or raw[0] != ED25519_TYPE:
        raise NoteError(f"verifier key {vkey!r}: not an Ed25519 (type 0x01) key")
    if base64.b64encode(raw).decode() != encoded:
        raise NoteError(f"verifier key {vkey!r}: base64 not in canonical form")
    verifier = Ed25519NoteVerifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.key_id != stated_id:
        raise NoteError(f"verifier key {vkey!r}: key ID does not match name and key")
    return verifier


def parse_note(data: bytes) -> Note:
    """Split a signed note into text and signature lines, refusing anything malformed."""
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"note: {len(data)} bytes, over the limit of {MAX_NOTE_BYTES}")
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NoteError(f"note: not UTF-8 ({e.reason} at byte {e.start})") from None
    _check_characters("note", whole)
    split = whole.rfind("\n\n")
    if split < 0:
        raise NoteError("note: no blank line before the signatures")
    text, block = whole[: split + 1], whole[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note: the last signature line must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note: {len(lines)} signatures, over the limit of {MAX_SIGNATURES}")
    return Note(text, tuple(_parse_signature_line(i, line) for i, line in enumerate(lines)))


def _parse_signature_line(i: int, line: str) -> NoteSignature:
    if not line.startswith(_DASH):
        raise NoteError(f"signature line {i + 1}: must start with an em dash and a space")
    name, sep, encoded = line[len(_DASH) :].partition(" ")
    if not sep:
        raise NoteError(f"signature line {i + 1}: expected '— <key name> <base64>'")
    try:
        check_key_name(name)
    except NoteError as e:
        raise NoteError(f"signature line {i + 1}: {e}") from None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise NoteError(f"signature line {i + 1}: signature is not base64") from None
    if len(raw) < 5:
        raise NoteError(
            f"signature line {i + 1}: {len(raw)} bytes, no room for key ID and signature"
        )
    return NoteSignature(name, raw[:4], raw[4:])


@dataclass(frozen=True)
class VerifiedNote:
    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]  # from keys we do not know: ignored, kept for relaying


def open_note(data: bytes, verifiers: Iterable[NoteVerifier]) -> VerifiedNote:
    """Parse and verify: every signature from a known key must verify, and at least one must."""
    note = parse_note(data)
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        if (v.name, v.key_id) in known:
            raise NoteError(f"key {v.name}+{v.key_id.hex()}: configured twice")
        known[(v.name, v.key_id)] = v
    text = note.text.encode()
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.append(sig)
        elif not verifier.verify(text, sig.signature):
            raise NoteError(f"signature of {sig.name}+{sig.key_id.hex()}: does not verify")
        elif sig not in verified:
            verified.append(sig)
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        raise NoteError(f"note: no signature from a known key (signed by {names})")
    return VerifiedNote(note.text, tuple(verified), tuple(unverified))


def sign_note(
    text: str, signers: Sequence[NoteSigner], keep: Sequence[NoteSignature] = ()
) -> bytes:
    """Sign `text` with each signer, after the signatures in `keep` (those of the same key
    are replaced, so signing twice does not add a second line)."""
    if not text.endswith("\n"):
        raise NoteError("note text: must end with a newline")
    _check_characters("note text", text)
    mine = {(s.name, s.key_id) for s in signers}
    signatures = [s for s in keep if (s.name, s.key_id) not in mine]
    signatures += [NoteSignature(s.name, s.key_id, s.sign(text.encode())) for s in signers]
    encoded = Note(text, tuple(signatures)).encode()
    parse_note(encoded)  # what we write must be what we would accept
    return encoded
