"""The UN/EDIFACT interchange envelope (ISO 9735) around the centre's messages, through pydifact:
the character set named in UNB, the service string advice (UNA), UNH..UNT messages with their
segment counts, and the UNZ message count.

A file that cannot be segmented, or whose envelope is broken, raises FormatError naming the
segment position; a message whose own framing is wrong (UNT count or reference, no UNT) is
handed on as a broken message, so that the messages around it are still read."""

from __future__ import annotations

import datetime as dt
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pydifact.control.characters import Characters
from pydifact.exceptions import EDISyntaxError, MissingImplementationWarning, ValidationError
from pydifact.parser import Parser
from pydifact.segmentcollection import Interchange, Message
from pydifact.segments import Segment, SegmentFactory

from centre.formats.errors import FormatError

# ISO 9735 syntax identifiers (0001) and the byte encodings they name. UNOW (UTF-8, syntax
# version 4) is what the centre writes: plates come in Cyrillic and Chinese characters.
CHARSETS = {
    "UNOA": "ascii", "UNOB": "ascii", "UNOC": "latin-1", "UNOD": "iso8859-2",
    "UNOE": "iso8859-5", "UNOF": "iso8859-7", "UNOW": "utf-8", "UNOY": "utf-8",
}  # fmt: skip
WRITTEN_SYNTAX = ("UNOW", 4)
# Component ':', element '+', decimal '.', release '?', reserved ' ', terminator "'".
SERVICE_CHARACTERS = ":+.? '"
_MAX_PARTY_ID = 35  # UNB S002/S003 0004: an..35


class _SegmentOrRaw(SegmentFactory):
    """pydifact's factory, minus its per-segment directory lookup (it ships no CUSCAR
    directory): a tag that is not three capitals or digits (an unescaped ' in a text, say)
    becomes a BrokenSegment, so that only the message holding it is refused."""

    @staticmethod
    def create_segment(
        name: str, *elements: str | list[str], validate: bool = True, version: str = "4",
        directory: str = "",
    ) -> Segment:  # fmt: skip
        if len(name) == 3 and name.isalnum() and name.isupper():
            return Segment(name, *elements) if elements else Segment(name, "")
        return BrokenSegment(name)


class BrokenSegment(Segment):  # type: ignore[no-untyped-call]  # pydifact's plugin hook
    """What stood where a segment tag should be."""

    __omitted__ = True
    tag = "???"

    def __init__(self, text: str) -> None:
        self.text = text
        self.elements = []


@dataclass
class RawMessage:
    """One UNH..UNT message: its position in the interchange (1-based), the UNH reference,
    message type (S009) and its segments, UNH to UNT; `framing` holds what was wrong
    with UNH/UNT (a count that disagrees, no UNT), which refuses the message."""

    index: int
    reference: str
    identifier: list[str]
    segments: list[Segment] = field(default_factory=list)
    framing: list[str] = field(default_factory=list)


def element(segment: Segment, position: int, component: int = 0) -> str:
    """The text at `position` (0 = the first element after the tag) and `component`, or ''."""
    if position >= len(segment.elements):
        return ""
    value = segment.elements[position]
    if isinstance(value, str):
        return value if component == 0 else ""
    return value[component] if component < len(value) else ""


def components(segment: Segment, position: int) -> list[str]:
    if position >= len(segment.elements):
        return []
    value = segment.elements[position]
    return [value] if isinstance(value, str) else list(value)


def _decode(data: bytes, where: str) -> str:
    head = data[:64].decode("latin-1")
    start = head.find("UNB")
    if start < 0:
        raise FormatError(f"{where}: not an EDIFACT interchange: no UNB segment at the start")
    syntax = head[start + 4 : start + 8]
    encoding = CHARSETS.get(syntax)
    if encoding is None:
        raise FormatError(
            f"{where}: UNB syntax identifier {syntax!r} is not one of {', '.join(CHARSETS)}"
        )
    try:
        return data.decode(encoding).removeprefix("\ufeff")  # a byte order mark is no segment
    except UnicodeDecodeError as error:
        raise FormatError(
            f"{where}: byte {error.start} is not {encoding} as UNB's {syntax} says"
        ) from None


_SEGMENTING_ERRORS = (EDISyntaxError, ValidationError, ValueError, IndexError, TypeError)


def _numbered(text: str, where: str) -> Iterator[tuple[int, Segment]]:
    """pydifact's segments with their ISO 9735 numbers (UNA 0, UNB 1); a file it cannot
    segment raises FormatError naming the segment it failed at and the one before."""
    if not text.startswith("UNA"):
        # pydifact looks for "'UNA" anywhere when the file does not start with one, and would
        # take a released ?'UNA in a text for it: an explicit default advice rules that out.
        text = "UNA" + SERVICE_CHARACTERS + text
    stream = Parser(factory=_SegmentOrRaw()).parse(text)
    number, tag = 0, "UNA"
    while True:
        try:
            segment = next(stream)
        except StopIteration:
            return
        except _SEGMENTING_ERRORS as error:
            reason = str(error).removeprefix("EDIFACT Syntax Error: ")
            raise FormatError(
                f"{where}: segment {max(1, number)} (after {tag}): {reason}"
            ) from None
        yield number, segment
        number, tag = number + 1, segment.tag


def _envelope(una: Segment, unb: Segment | None, where: str) -> Interchange:
    if unb is None or unb.tag != "UNB":
        first = unb.tag if unb is not None else "nothing"
        raise FormatError(f"{where}: segment 1: {first} where an interchange starts with UNB")
    try:
        with warnings.catch_warnings():
            # pydifact validates UNB against service directories it does not ship
            warnings.simplefilter("ignore", MissingImplementationWarning)
            return Interchange.from_segments([una, unb])
    except _SEGMENTING_ERRORS as error:
        reason = str(error).removeprefix("EDIFACT Syntax Error: ")
        raise FormatError(f"{where}: segment 1 (UNB): {reason}") from None


def iter_messages(data: bytes, where: str) -> Iterator[RawMessage]:
    """The interchange's messages, in order, as they are segmented: a 100,000-message file is
    never held as segments. FormatError, for a file that is not an interchange (undecodable,
    unsegmentable, segments outside any message, no UNZ, a UNZ that counts other messages or
    names another reference), may come after messages were yielded: a file is whole only
    when the iteration ends without one."""
    numbered = _numbered(_decode(data, where), where)
    _, una = next(numbered)
    interchange = _envelope(una, next(numbered, (1, None))[1], where)
    count, number = 0, 1
    current: RawMessage | None = None
    for number, segment in numbered:
        if segment.tag == "UNZ":
            if current is not None:
                current.framing.append("UNT missing at the end of the interchange")
                yield current
            _check_end(segment, count, interchange, where)
            extra = next(numbered, None)
            if extra is not None:
                raise FormatError(f"{where}: segment {extra[0]}: {extra[1].tag} after UNZ")
            return
        if segment.tag == "UNH":
            if current is not None:
                current.framing.append(f"UNT missing: the next UNH is at segment {number}")
                yield current
            count += 1
            current = RawMessage(count, element(segment, 0), components(segment, 1), [segment])
        elif current is None:
            what = (
                "functional groups (UNG..UNE) are not read"
                if segment.tag in ("UNG", "UNE")
                else f"{segment.tag} outside a message (UNH..UNT)"
            )
            raise FormatError(f"{where}: segment {number}: {what}")
        else:
            current.segments.append(segment)
            if segment.tag == "UNT":
                _check_trailer(current, segment)
                yield current
                current = None
    raise FormatError(f"{where}: UNZ missing after segment {number}: the file is cut short")


def _check_end(unz: Segment, count: int, interchange: Interchange, where: str) -> None:
    if element(unz, 0) != str(count):
        raise FormatError(f"{where}: UNZ counts {element(unz, 0)!r} messages; there are {count}")
    reference = interchange.control_reference
    if element(unz, 1) != reference:
        raise FormatError(f"{where}: UNZ reference {element(unz, 1)!r} is not UNB's {reference!r}")


def _check_trailer(message: RawMessage, unt: Segment) -> None:
    count, reference = element(unt, 0), element(unt, 1)
    if count != str(len(message.segments)):
        message.framing.append(
            f"UNT: segment count {count!r}, the message has {len(message.segments)} (UNH..UNT)"
        )
    if reference != message.reference:
        message.framing.append(f"UNT: reference {reference!r} is not UNH's {message.reference!r}")


class _Interchange(Interchange):
    """pydifact's interchange, with the preparation date as syntax version 4 writes it
    (CCYYMMDD; pydifact writes the YYMMDD of versions 1-3)."""

    def get_header_segment(self) -> Segment:
        return Segment(
            self.HEADER_TAG,
            [self.syntax_identifier[0], str(self.syntax_identifier[1])],
            self.sender,
            self.recipient,
            [f"{self.timestamp:%Y%m%d}", f"{self.timestamp:%H%M}"],
            self.control_reference,
            *self.extra_header_elements,
        )


def write_interchange(
    messages: Sequence[Message],
    sender: str,
    recipient: str,
    *,
    control_reference: str | None = None,
    prepared: dt.datetime | None = None,
) -> bytes:
    """UNA, UNB, the messages (each with its UNH and counted UNT), UNZ; UTF-8 (UNOW:4)."""
    for role, party in (("sender", sender), ("recipient", recipient)):
        if not party or len(party) > _MAX_PARTY_ID:
            raise ValueError(f"{role}: {party!r} must be 1 to {_MAX_PARTY_ID} characters (UNB)")
    reference = control_reference or uuid.uuid4().hex[:14].upper()
    interchange = _Interchange(
        sender, recipient, reference, WRITTEN_SYNTAX,
        prepared or dt.datetime.now(dt.UTC), characters=Characters.from_str(SERVICE_CHARACTERS),
    )  # fmt: skip
    interchange.has_una_segment = True
    for message in messages:
        interchange.add_message(message)
    return interchange.serialize().encode("utf-8")
