"""File bundles: the same signed envelopes, carried where there is no link at all (a USB
stick, an e-mail attachment) — the "simple information exchange".

A bundle is a JSON Lines file: a first line that says what it is, then one line per message
with its topic and its envelope (the JWS, as it would travel over MQTT). Nothing in a bundle is
trusted for being in it: each envelope is verified by the receiving inbox like any other, and
applied once (a message that also came over MQTT, or in an earlier bundle, is a duplicate).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.timeutil import format_utc, utcnow
from sync.inbox import Incoming
from sync.outbox import Outbox
from sync.topics import TopicError, parse_topic

FORMAT = "carec-bundle/1"
MAX_LINE_BYTES = 512 * 1024


class BundleError(ValueError):
    pass


@dataclass(frozen=True)
class Exported:
    path: Path
    messages: int


def export_bundle(outbox: Outbox, peer: str, path: Path) -> Exported:
    """Write every message still waiting for `peer`; they stay queued for the link too."""
    envelopes = outbox.waiting(peer)
    header = {"format": FORMAT, "origin": outbox.signer.node_id, "peer": peer,
              "created": format_utc(utcnow()), "messages": len(envelopes)}  # fmt: skip
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="ascii") as out:
        out.write(json.dumps(header) + "\n")
        for topic, data in envelopes:
            out.write(json.dumps({"topic": topic, "envelope": data.decode("ascii")}) + "\n")
    tmp.replace(path)
    return Exported(path, len(envelopes))


def read_bundle(path: Path) -> Iterator[Incoming]:
    """The bundle's messages, as the inbox takes them. A bundle that is not one raises
    BundleError; a bad line becomes a message the inbox will quarantine with its reason."""
    with path.open("rb") as stream:
        first = stream.readline(MAX_LINE_BYTES)
        try:
            header = json.loads(first)
        except ValueError:
            raise BundleError(f"{path}: not a bundle (its first line is not JSON)") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise BundleError(f"{path}: not a {FORMAT} bundle")
        source = f"bundle:{path.name}"
        for raw in stream:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                topic, envelope = str(line["topic"]), str(line["envelope"]).encode("ascii")
                parse_topic(topic)
            except (ValueError, KeyError, TypeError, UnicodeEncodeError, TopicError):
                yield Incoming(source, "bundle/bad-line", raw[:MAX_LINE_BYTES])
                continue
            yield Incoming(source, topic, envelope)
