"""File bundles: the same signed envelopes, carried where there is no link at all (a USB
stick, an e-mail attachment) — the "simple information exchange".

A bundle is a JSON Lines file: a first line that says what it is (and how many messages follow),
then one line per message with its topic and its envelope (the JWS, as it would travel over
MQTT). Nothing in a bundle is trusted for being in it: each envelope is verified by the
receiving inbox like any other, and applied once (a message that also came over MQTT, or in an
earlier bundle, is a duplicate).

Reading is bounded whatever the file holds: a line is read up to `MAX_LINE_BYTES` and the rest
of a longer one skipped without being kept (a file of zeros, a cut or hostile bundle), so
memory does not grow with the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.json_input import JsonInputError, parse_json, parse_json_object
from edge.manifest import describe_validation_error
from edge.timeutil import format_utc, utcnow
from sync.envelope import MAX_ENVELOPE_BYTES
from sync.inbox import Incoming
from sync.outbox import Outbox
from sync.topics import TopicError, parse_topic

FORMAT = "carec-bundle/1"
# An envelope (at most MAX_ENVELOPE_BYTES of base64url, no escaping) with its topic and keys.
MAX_LINE_BYTES = MAX_ENVELOPE_BYTES + 4096
MAX_MESSAGES = 10_000_000  # what a header may promise: far beyond any queue, within a counter
_SKIP_CHUNK = 1024 * 1024


class BundleError(ValueError):
    pass


class BundleHeader(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    format: Literal["carec-bundle/1"]
    origin: str = ""
    peer: str = ""
    created: str = ""
    messages: int = Field(ge=0, le=MAX_MESSAGES, strict=True)


@dataclass(frozen=True)
class Exported:
    path: Path
    messages: int


@dataclass(frozen=True)
class BadLine:
    """A line of a bundle that is not a message: where, why, and its first bytes."""

    line: int
    detail: str
    head: bytes


@dataclass(frozen=True)
class Line:
    """One message line of a bundle (1-based line numbers, the header is line 1)."""

    number: int
    message: Incoming | BadLine


def export_bundle(outbox: Outbox, peer: str, path: Path) -> Exported:
    """Write every message for `peer` its receiver has not confirmed: those waiting, in flight,
    refused by the broker, and those the broker took but the receiver has not acknowledged (a
    broker that crashed may have lost them). They stay queued for the link too."""
    envelopes = outbox.unconfirmed(peer)
    header = {"format": FORMAT, "origin": outbox.signer.node_id, "peer": peer,
              "created": format_utc(utcnow()), "messages": len(envelopes)}  # fmt: skip
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="ascii") as out:
        out.write(json.dumps(header) + "\n")
        for topic, data in envelopes:
            out.write(json.dumps({"topic": topic, "envelope": data.decode("ascii")}) + "\n")
    tmp.replace(path)
    return Exported(path, len(envelopes))


def read_header(stream: BinaryIO, path: Path) -> BundleHeader:
    first = stream.readline(MAX_LINE_BYTES + 1)  # not read to its end: it may have none
    if len(first) > MAX_LINE_BYTES and not first.endswith(b"\n"):
        raise BundleError(f"{path}: not a bundle (its first line is over {MAX_LINE_BYTES} bytes)")
    try:
        raw = parse_json_object(first, f"{path}: line 1")
    except JsonInputError as error:
        raise BundleError(f"{path}: not a bundle ({error})") from None
    if raw.get("format") != FORMAT:
        raise BundleError(f"{path}: not a {FORMAT} bundle")
    try:
        return BundleHeader.model_validate(raw)
    except ValidationError as error:
        reasons = "; ".join(describe_validation_error(error))
        raise BundleError(f"{path}: a bad bundle header: {reasons}") from None


def read_lines(stream: BinaryIO, path: Path) -> Iterator[Line]:
    """The message lines after the header: each one a message as the inbox takes it, or why it
    is none (blank lines are skipped)."""
    source = f"bundle:{path.name}"
    number = 1
    while True:
        raw, whole = _read_line(stream)
        if not raw:
            return
        number += 1
        if not whole:
            yield Line(number, BadLine(number, f"over {MAX_LINE_BYTES} bytes", raw[:256]))
            continue
        if not raw.strip():
            continue
        where = f"{path}: line {number}"
        try:
            line = parse_json(raw, where)
            if not isinstance(line, dict):
                raise JsonInputError(f"{where}: expected a JSON object")
            topic, envelope = line.get("topic"), line.get("envelope")
            if not isinstance(topic, str) or not isinstance(envelope, str):
                raise JsonInputError(f"{where}: expected a topic and an envelope, as text")
            parse_topic(topic)
            data = envelope.encode("ascii")
        except (JsonInputError, TopicError, UnicodeEncodeError) as error:
            yield Line(number, BadLine(number, str(error)[:500], raw[:256]))
            continue
        yield Line(number, Incoming(source, topic, data))


def _read_line(stream: BinaryIO) -> tuple[bytes, bool]:
    """The next line (with at most MAX_LINE_BYTES kept) and whether it is whole: a longer line
    is read to its end in chunks that are not kept. b"" at the end of the file."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
        return line, True
    while True:
        rest = stream.readline(_SKIP_CHUNK)
        if not rest or rest.endswith(b"\n"):
            return line[:MAX_LINE_BYTES], False
