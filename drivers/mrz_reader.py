"""Passport / ID readers that emit the MRZ as text lines on a serial port (the usual mode of
desk readers: each line ended by CR or CR LF, a blank line or STX/ETX around each document).

Lines gather until they make a whole MRZ (3 x 30, 2 x 36 or 2 x 44 characters); the document
is then parsed and reported, invalid ones included, with their failing checks. Anything that is
not an MRZ line ends the document being gathered and is rejected with its reason; a reason says
how long a line was, never what it held (a cut MRZ line still carries a name or a number, and
rejects are logged)."""

from __future__ import annotations

import re
from typing import Literal

from drivers.device_config import SerialConfigBase
from drivers.mrz import MrzFormatError, parse_mrz
from drivers.protocol import LineBuffer, Protocol, ProtocolOutput
from edge.readings import DocumentRead
from edge.timeutil import utcnow

_MRZ_LINE = re.compile(rb"^[A-Z0-9<]+$")
# Line noise glued before an MRZ line: the MRZ characters at the end of the line.
_MRZ_TAIL = re.compile(rb"[A-Z0-9<]{30,}$")
# How many lines of each length make a whole MRZ: TD1, TD2 / MRV-B, TD3 / MRV-A.
_LINES_FOR_LENGTH = {30: 3, 36: 2, 44: 2}
_FRAMING = b"\x02\x03"  # STX / ETX some readers put around a document


class MrzReaderConfig(SerialConfigBase):
    kind: Literal["mrz"] = "mrz"


class MrzReaderProtocol(Protocol):
    def __init__(self, config: MrzReaderConfig) -> None:
        super().__init__(config.id)
        self._lines = LineBuffer((b"\r\n", b"\r", b"\n"), max_line=256)
        self._document: list[str] = []

    def reset(self) -> None:
        self._lines.reset()
        self._document.clear()

    def feed(self, data: bytes) -> ProtocolOutput:
        out = ProtocolOutput()
        lines, out.rejects = self._lines.feed(data)
        for raw in lines:
            line = raw.strip(_FRAMING + b" \t")
            if not line:
                self._abandon(out, "blank line")
                continue
            tail = _MRZ_TAIL.search(line)
            if tail and len(tail.group()) in _LINES_FOR_LENGTH and len(line) > len(tail.group()):
                # Reasons reach WARNING logs: they say how much, never what (an MRZ is personal).
                out.rejects.append(f"line noise before an MRZ line dropped ({tail.start()} bytes)")
                line = tail.group()
            if not _MRZ_LINE.match(line) or len(line) not in _LINES_FOR_LENGTH:
                self._abandon(out, "a line that is not MRZ")
                out.rejects.append(f"not an MRZ line ({len(line)} characters)")
                continue
            if self._document and len(self._document[0]) != len(line):
                self._abandon(out, f"a line of {len(line)} characters")
            self._document.append(line.decode("ascii"))
            if len(self._document) == _LINES_FOR_LENGTH[len(line)]:
                self._complete(out)
        return out

    def _complete(self, out: ProtocolOutput) -> None:
        lines, self._document = self._document, []
        try:
            result = parse_mrz(lines)
        except MrzFormatError as error:
            out.rejects.append(f"not an MRZ: {error}")
            return
        out.readings.append(
            DocumentRead(
                device=self.device_id,
                at=utcnow(),
                mrz=result.to_dict(),
                valid=result.valid,
                failed_checks=result.failed_checks,  # structural errors are in mrz['errors']
            )
        )

    def _abandon(self, out: ProtocolOutput, why: str) -> None:
        if self._document:
            out.rejects.append(
                f"incomplete MRZ: {len(self._document)} line(s) of {len(self._document[0])} "
                f"characters, then {why}"
            )
            self._document = []
