"""UN/EDIFACT CUSCAR (customs cargo report) <-> the e-manifest contract: one CUSCAR message
(UNH..UNT) per record, in one interchange (UNB..UNZ) per file. The table of segments and
qualifiers, and what is refused and why, is docs/centre-formats.md; this module is that table.

A message that breaks (a broken segment, a UNT that miscounts, a value that is not what its
segment holds, a record the contract refuses) becomes a FormatReject naming the message and
the segment; the messages around it are still read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from pydifact.segmentcollection import Message
from pydifact.segments import Segment

from centre.formats.cuscar_read import MessageReader
from centre.formats.edifact import RawMessage, iter_messages, write_interchange
from centre.formats.errors import FormatReject
from centre.formats.mapping import decimal_text
from edge.manifest import ContractError, Manifest, Party, Procedure, parse_manifest

MESSAGE_TYPE = ["CUSCAR", "D", "00B", "UN"]
DOCUMENT_NAME = "85"  # UNCL 1001: customs manifest
FUNCTION_ORIGINAL, FUNCTION_REPLACE = "9", "5"  # UNCL 1225
GOVERNMENT_MOVEMENT = {Procedure.EXPORT: "1", Procedure.IMPORT: "2", Procedure.TRANSIT: "3"}
BORDER_EXIT, BORDER_ENTRY = "42", "135"  # UNCL 3227: customs office of exit; place of entry
SEAL_TYPES = {"mechanical": "1", "electronic": "2"}  # UNCL 4525
NAME_PART, TEXT_PART, TEXT_PARTS = 35, 70, 5  # C080 3036 an..35; C108 4440 an..70, 5 a segment


def read_cuscar(data: bytes, where: str) -> list[Manifest | FormatReject]:
    """Every message of the interchange, in order: a Manifest, or a FormatReject with its
    reasons. Raises FormatError when the file is not a readable interchange at all."""
    return list(iter_cuscar(data, where))


def iter_cuscar(data: bytes, where: str) -> Iterator[Manifest | FormatReject]:
    """read_cuscar one message at a time, for files too large to hold as records. A
    FormatError may come after records were yielded (a UNZ that miscounts, a file cut short):
    take none of them unless the iteration ends without one."""
    for message in iter_messages(data, where):
        yield _read_message(message)


def _read_message(message: RawMessage) -> Manifest | FormatReject:
    reader = MessageReader(message)
    if message.framing or reader.problems:
        return FormatReject(message.index, reader.ref, message.framing + reader.problems)
    try:
        return parse_manifest(reader.record)
    except ContractError as error:
        return FormatReject(message.index, reader.ref, [reader.locate(r) for r in error.reasons])


def write_cuscar(
    records: Sequence[Manifest],
    sender: str,
    recipient: str,
    *,
    control_reference: str | None = None,
    prepared: dt.datetime | None = None,
) -> bytes:
    """One interchange from `sender` to `recipient` (UNB ids) holding a CUSCAR message per
    record, UTF-8 (UNOW:4). Raises ValueError for a record CUSCAR cannot carry exactly (an
    expected arrival with fractions of a second)."""
    messages = []
    for number, record in enumerate(records, start=1):
        message = Message(str(number), MESSAGE_TYPE)
        for segment in _segments(record, number):
            message.add_segment(segment)
        messages.append(message)
    return write_interchange(
        messages, sender, recipient, control_reference=control_reference, prepared=prepared
    )


def _segments(record: Manifest, number: int) -> list[Segment]:
    function = FUNCTION_ORIGINAL if record.version == 1 else FUNCTION_REPLACE
    out = [
        Segment("BGM", DOCUMENT_NAME, [record.ref, str(record.version)], function),
        Segment("NAD", "MS", record.issuer),
    ]
    if record.carrier:
        out.append(_party("CA", record.carrier))
    if record.driver:
        driver = record.driver
        out.append(Segment("NAD", "FM", "", "", _parts(driver.name, NAME_PART)))
        if driver.birth_date:
            out.append(
                Segment("DTM", ["329", driver.birth_date.isoformat().replace("-", ""), "102"])
            )
        out.append(Segment("DOC", driver.document_type.value, driver.document_number))
        if driver.nationality:
            out.append(Segment("NAT", "2", driver.nationality))
    transport = record.transport
    # stage 20 main carriage, mode 3 road, means 31 truck; C222 plate and nationality
    means = [transport.plate, "", "", "", transport.nationality]
    out.append(Segment("TDT", "20", "", "3", "31", "", "", "", means))
    if transport.vin:
        out.append(Segment("RFF", ["ZZZ", transport.vin]))
    if record.office_departure:
        out.append(Segment("LOC", "118", record.office_departure))
    if record.office_destination:
        out.append(Segment("LOC", "122", record.office_destination))
    border = BORDER_EXIT if record.procedure is Procedure.EXPORT else BORDER_ENTRY
    out.append(Segment("LOC", border, record.office_border))
    out.append(Segment("DTM", _arrival(record.expected_arrival, number)))
    out += [Segment("EQD", "TE", [t.plate, "", "", t.nationality]) for t in record.trailers]
    for container in record.equipment:
        size = [[container.size_type, "6346", "5"]] if container.size_type else []
        out.append(Segment("EQD", "CN", container.id, *size))
    for seal in record.seals:
        party = seal.party.value if seal.party else ""
        out.append(Segment("SEL", seal.id, party, "", "", SEAL_TYPES[seal.type.value]))
    out += [Segment("CNI", "1"), Segment("GOR", GOVERNMENT_MOVEMENT[record.procedure])]
    if record.ucr:
        out.append(Segment("RFF", ["UCN", record.ucr]))
    if record.cmr:
        out.append(Segment("DOC", "730", record.cmr))
    if record.tir_carnet:
        out.append(Segment("DOC", "952", record.tir_carnet))
    if record.consignor:
        out.append(_party("CZ", record.consignor))
    if record.consignee:
        out.append(_party("CN", record.consignee))
    for goods in record.goods:
        count = "" if goods.packages is None else str(goods.packages)
        packages = [[count, goods.package_type or ""]] if count or goods.package_type else []
        out.append(Segment("GID", str(goods.seq), *packages))
        description = _parts(goods.description, TEXT_PART)
        for start in range(0, len(description), TEXT_PARTS):
            out.append(Segment("FTX", "AAA", "", "", description[start : start + TEXT_PARTS]))
        out.append(Segment("MEA", "AAE", "G", ["KGM", decimal_text(goods.gross_mass_kg)]))
        out.append(Segment("CST", "", [goods.hs_code]))
    return out


def _party(qualifier: str, party: Party) -> Segment:
    elements: list[str | list[str]] = [qualifier, party.id or "", "", _parts(party.name, NAME_PART)]
    if party.country:
        elements += ["", "", "", "", party.country]
    return Segment("NAD", *elements)


def _parts(text: str, size: int) -> list[str]:
    """A text cut into a composite's components of `size` characters: a name longer than the
    directory's five components gets more of them (see docs/centre-formats.md)."""
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]


def _arrival(moment: dt.datetime, number: int) -> list[str]:
    if moment.microsecond:
        raise ValueError(
            f"records[{number - 1}].expected_arrival: {moment.isoformat()} has fractions of a "
            "second, which a CUSCAR DTM (format 203/204) cannot hold"
        )
    year = f"{moment.year:04d}"  # strftime's %Y does not pad years before 1000
    if moment.second:
        return ["132", f"{year}{moment:%m%d%H%M%S}", "204"]
    return ["132", f"{year}{moment:%m%d%H%M}", "203"]
