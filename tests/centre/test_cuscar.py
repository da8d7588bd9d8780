"""The CIS's UN/EDIFACT CUSCAR files: written and read back unchanged, the sample written from
the public specification read field by field, and every kind of bad message refused alone,
naming its message and segment, while the messages around it are still taken."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from hypothesis import given, settings

from centre.formats.cuscar import read_cuscar, write_cuscar
from centre.formats.errors import FormatError, FormatReject
from edge.manifest import Manifest
from edge.synthetic import generate_day
from tests.fixtures.cis.strategies import records

SAMPLE = Path(__file__).parents[1] / "fixtures" / "cis" / "sample.cuscar.edi"
DAY = dt.date(2026, 11, 28)


def _sample_messages() -> list[list[str]]:
    """The sample's messages, each as its segments between UNH and UNT (terminators cut)."""
    messages: list[list[str]] = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("UNH"):
            messages.append([])
        elif line.startswith(("UNT", "UNA", "UNB", "UNZ")):
            continue
        else:
            messages[-1].append(line.removesuffix("'"))
    return messages


def _interchange(*bodies: list[str], unt_counts: dict[int, str] | None = None) -> bytes:
    """An interchange of messages with these bodies; UNT counts right unless overridden."""
    parts = ["UNA:+.? '", "UNB+UNOW:4+KZ-CIS+KZ-CENTRE+20261127:2300+REF1'"]
    for number, body in enumerate(bodies, start=1):
        count = (unt_counts or {}).get(number, str(len(body) + 2))
        parts += [
            f"UNH+{number}+CUSCAR:D:00B:UN'",
            *(s + "'" for s in body),
            f"UNT+{count}+{number}'",
        ]
    parts.append(f"UNZ+{len(bodies)}+REF1'")
    return "\n".join(parts).encode("utf-8")


def _replace(body: list[str], old: str, new: str | None) -> list[str]:
    """The body with the segment starting `old` replaced by `new` (None removes it)."""
    index = next(i for i, segment in enumerate(body) if segment.startswith(old))
    return body[:index] + ([new] if new is not None else []) + body[index + 1 :]


def test_a_synthetic_day_of_records_is_written_and_read_back_unchanged() -> None:
    day = generate_day(random.Random(14), DAY, 400)

    data = write_cuscar(day, "KZ-CIS", "KZ-CENTRE")

    assert read_cuscar(data, "day.edi") == day


@settings(max_examples=60, deadline=None)
@given(records())
def test_any_record_of_the_contract_survives_cuscar(record: Manifest) -> None:
    assert read_cuscar(write_cuscar([record], "KZ-CIS", "KZ-CENTRE"), "one.edi") == [record]


def test_a_thousand_records_in_one_file_read_back() -> None:
    day = generate_day(random.Random(15), DAY, 1000)

    back = read_cuscar(write_cuscar(day, "KZ-CIS", "KZ-CENTRE"), "big.edi")

    assert len(back) == 1000
    assert back == day


def test_the_written_interchange_counts_its_segments_and_messages() -> None:
    day = generate_day(random.Random(16), DAY, 3)
    prepared = dt.datetime(2026, 11, 27, 23, 0, tzinfo=dt.UTC)

    text = write_cuscar(day, "KZ-CIS", "KZ-CENTRE", control_reference="R1", prepared=prepared)

    segments = text.decode("utf-8").removeprefix("UNA:+.? '").split("'")[:-1]
    assert segments[0] == "UNB+UNOW:4+KZ-CIS+KZ-CENTRE+20261127:2300+R1"
    assert segments[-1] == "UNZ+3+R1"
    first_unt = next(i for i, s in enumerate(segments) if s.startswith("UNT"))
    assert segments[first_unt] == f"UNT+{first_unt}+1"  # UNH (segment 1 of the list) .. UNT


def test_the_sample_reads_to_its_three_records() -> None:
    tir, replaced, export = read_cuscar(SAMPLE.read_bytes(), SAMPLE.name)

    assert isinstance(tir, Manifest)
    assert isinstance(replaced, Manifest)
    assert isinstance(export, Manifest)
    assert (tir.ref, tir.procedure.value, tir.tir_carnet, tir.cmr) == (
        "26KZ00010000000123",
        "transit",
        "XA81234567",
        "KZ-2026-000812",
    )
    assert (tir.office_departure, tir.office_destination, tir.office_border) == (
        "KZ051100",
        "KG417000",
        "KZ051900",
    )
    assert tir.expected_arrival == dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)
    assert tir.driver is not None
    assert (
        tir.driver.name,
        tir.driver.document_number,
        tir.driver.nationality,
    ) == ("IVANOV IVAN", "N12345678", "KAZ")
    assert tir.driver.birth_date == dt.date(1980, 4, 12)
    assert tir.goods[0].description == "Tractor parts + accessories"  # ?+ released
    assert (tir.goods[0].packages, tir.goods[0].package_type, tir.goods[0].gross_mass_kg) == (
        24,
        "PK",
        11850.5,
    )
    assert replaced.version == 2
    assert (replaced.transport.plate, replaced.transport.vin) == (
        "А 123 ВС 77",
        "XTC65115R91234567",
    )
    assert [t.plate for t in replaced.trailers] == ["ВУ 0630 77"]
    assert replaced.expected_arrival == dt.datetime(2026, 11, 28, 9, 15, 30, tzinfo=dt.UTC)
    assert [(s.id, s.type.value, s.party and s.party.value) for s in replaced.seals] == [
        ("CNC7654321", "mechanical", "CU"),
        ("ENP000123456", "electronic", "CU"),
        ("MSK1234567", "mechanical", "SH"),
    ]
    assert [(e.id, e.size_type) for e in replaced.equipment] == [("MSKU1234565", "45G1")]
    assert replaced.consignor is not None
    assert replaced.consignor.name == "Yiwu Silkroad Import & Export Co., Ltd."
    assert [(g.seq, g.hs_code, g.gross_mass_kg) for g in replaced.goods] == [
        (1, "8517130000", 14400.0),
        (2, "847130", 2760.25),
    ]
    assert (export.procedure.value, export.office_border, export.driver) == (
        "export",
        "KZ051900",
        None,
    )


BAD_MESSAGES = [
    # (what is wrong, how the second message is spoilt, what its reject must say)
    (
        "an unreleased apostrophe in a name",
        lambda b: _replace(b, "NAD+CA", "NAD+CA+990140000123++O'Brien Trans+++++KZ"),
        "segment 5: 'Brien Trans' is not a segment tag",
    ),
    ("no BGM", lambda b: _replace(b, "BGM", None), "BGM missing"),
    ("no TDT", lambda b: _replace(b, "TDT", None), "transport: required (TDT)"),
    (
        "a second TDT",
        lambda b: [*b[:9], "TDT+20++3+31++++888 ABC 02::::KZ", *b[9:]],
        "TDT, segment 11: transport given again (first at TDT, segment 9)",
    ),
    (
        "an HS code of letters",
        lambda b: _replace(b, "CST", "CST++87089X"),
        "goods[0].hs_code: '87089X' is not an HS code of 6 to 10 digits (CST, segment 23)",
    ),
    (
        "an arrival on the 32nd",
        lambda b: _replace(b, "DTM+132", "DTM+132:202611320830:203"),
        "DTM, segment 13: '202611320830' is not a date of format 203",
    ),
    (
        "a date format not read",
        lambda b: _replace(b, "DTM+132", "DTM+132:2026112808:101"),
        "DTM, segment 13: date format '101'",
    ),
    (
        "a package count in words",
        lambda b: _replace(b, "GID", "GID+1+many:PK"),
        "GID, segment 20: number of packages 'many' is not a number",
    ),
    (
        "a lower-case office code",
        lambda b: _replace(b, "LOC+122", "LOC+122+kg417000"),
        "office_destination: String should match pattern",
    ),
    (
        "a mass in pounds",
        lambda b: _replace(b, "MEA", "MEA+AAE+G+LBR:26125"),
        "MEA, segment 22: gross mass in 'LBR'",
    ),
    ("an unknown movement", lambda b: _replace(b, "GOR", "GOR+7"), "GOR, segment 17: movement '7'"),
    (
        "a cancellation",
        lambda b: _replace(b, "BGM", "BGM+85+26KZ00010000000123+1"),
        "BGM, segment 2: message function '1'",
    ),
    (
        "a passport outside the driver's group",
        lambda b: [*_replace(b, "DOC+P", None), "DOC+P+N12345678"],
        "DOC, segment 23: belongs after NAD+FM",
    ),
]


@pytest.mark.parametrize(
    ("case", "spoil", "reason"), BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES]
)
def test_a_bad_message_is_refused_alone_naming_its_segment(
    case: str, spoil: object, reason: str
) -> None:
    good = _sample_messages()[0]
    assert callable(spoil)

    results = read_cuscar(_interchange(good, spoil(list(good)), good), "bad.edi")

    assert [type(r).__name__ for r in results] == ["Manifest", "FormatReject", "Manifest"]
    reject = results[1]
    assert isinstance(reject, FormatReject)
    assert reject.index == 2
    assert any(reason in r for r in reject.reasons), reject.reasons
    assert str(reject).startswith("message 2")


def test_a_contract_reason_names_the_message_ref_and_segment() -> None:
    good = _sample_messages()[0]
    spoilt = _replace(good, "NAT", "NAT+2+XYZ")

    reject = read_cuscar(_interchange(spoilt), "bad.edi")[0]

    assert str(reject) == (
        "message 1 (ref 26KZ00010000000123): driver.nationality: 'XYZ' is not an ICAO 9303 / "
        "ISO 3166-1 alpha-3 nationality code (NAT, segment 8)"
    )


def test_a_unt_that_miscounts_refuses_its_message_only() -> None:
    good = _sample_messages()[0]

    results = read_cuscar(_interchange(good, good, unt_counts={2: "7"}), "bad.edi")

    assert isinstance(results[0], Manifest)
    assert isinstance(results[1], FormatReject)
    assert results[1].reasons == [
        f"UNT: segment count '7', the message has {len(good) + 2} (UNH..UNT)"
    ]


def test_a_unt_naming_another_message_refuses_its_message_only() -> None:
    good = _sample_messages()[0]
    data = _interchange(good, good).replace(
        f"UNT+{len(good) + 2}+2'".encode(), f"UNT+{len(good) + 2}+9'".encode()
    )

    results = read_cuscar(data, "bad.edi")

    assert isinstance(results[0], Manifest)
    assert isinstance(results[1], FormatReject)
    assert results[1].reasons == ["UNT: reference '9' is not UNH's '2'"]


def test_a_message_without_unt_is_refused_and_the_next_still_read() -> None:
    good = _sample_messages()[0]
    unt = f"UNT+{len(good) + 2}+2'\n"
    text = _interchange(good, good, good).decode("utf-8").replace(unt, "", 1)
    next_unh = 1 + (len(good) + 2) + (len(good) + 1) + 1  # UNB, message 1, message 2 cut

    results = read_cuscar(text.encode("utf-8"), "bad.edi")

    assert [type(r).__name__ for r in results] == ["Manifest", "FormatReject", "Manifest"]
    assert isinstance(results[1], FormatReject)
    assert f"UNT missing: the next UNH is at segment {next_unh}" in results[1].reasons


def test_a_byte_order_mark_before_the_interchange_is_read_over() -> None:
    (record,) = read_cuscar(b"\xef\xbb\xbf" + _interchange(_sample_messages()[0]), "bom.edi")

    assert isinstance(record, Manifest)
    assert record.ref == "26KZ00010000000123"


def test_a_comma_is_read_as_the_decimal_mark() -> None:
    body = _replace(_sample_messages()[0], "MEA", "MEA+AAE+G+KGM:11850,5")

    (record,) = read_cuscar(_interchange(body), "comma.edi")

    assert isinstance(record, Manifest)
    assert record.goods[0].gross_mass_kg == 11850.5


def test_a_file_without_service_string_advice_holding_a_released_una_is_read() -> None:
    # pydifact alone would take the ?'UNA in the text for the file's service string advice
    body = _replace(_sample_messages()[0], "FTX", "FTX+AAA+++Parts?'UNA?:?+.?? ?'tail")
    data = _interchange(body).removeprefix(b"UNA:+.? '\n")

    (record,) = read_cuscar(data, "no-una.edi")

    assert isinstance(record, Manifest)
    assert record.goods[0].description == "Parts'UNA:+.? 'tail"


BAD_FILES = [
    ("a JSON file", b'{"ref": "26KZ1"}', "no UNB segment at the start"),
    (
        "an unknown character set",
        _interchange([]).replace(b"UNOW", b"UNOZ"),
        "syntax identifier 'UNOZ'",
    ),
    (
        "bytes that are not UTF-8",
        _interchange(_sample_messages()[0]).replace(b"IVANOV", b"\xff\xfeANOV"),
        "is not utf-8 as UNB's UNOW says",
    ),
    (
        "a UNZ that miscounts",
        _interchange(_sample_messages()[0]).replace(b"UNZ+1", b"UNZ+2"),
        "UNZ counts '2' messages; there are 1",
    ),
    (
        "a UNZ with another reference",
        _interchange(_sample_messages()[0]).replace(b"UNZ+1+REF1", b"UNZ+1+REF2"),
        "UNZ reference 'REF2' is not UNB's 'REF1'",
    ),
    (
        "a file cut short",
        _interchange(_sample_messages()[0])[:-40],
        "segment 23 (after FTX): Unexpected end of EDI messages.",
    ),
    (
        "a file cut after a segment",
        _interchange(_sample_messages()[0]).rsplit(b"\nUNZ", 1)[0],
        "UNZ missing after segment 25",
    ),
    (
        "a segment between messages",
        _interchange(_sample_messages()[0]).replace(b"UNZ", b"FTX+AAA'\nUNZ"),
        "segment 26: FTX outside a message",
    ),
    (
        "a segment after UNZ",
        _interchange(_sample_messages()[0]) + b"\nUNH+9+CUSCAR:D:00B:UN'",
        "segment 27: UNH after UNZ",
    ),
    (
        "a functional group",
        _interchange(_sample_messages()[0]).replace(
            b"UNH+1", b"UNG+CUSCAR+KZ-CIS+KZ-CENTRE'\nUNH+1"
        ),
        "segment 2: functional groups (UNG..UNE) are not read",
    ),
    (
        "a message before UNB",
        b"UNA:+.? 'UNH+1+CUSCAR:D:00B:UN'UNB+UNOW:4+A+B+20261127:2300+R'UNZ+0+R'",
        "segment 1: UNH where an interchange starts with UNB",
    ),
]


@pytest.mark.parametrize(("case", "data", "error"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_file_that_is_no_interchange_is_refused_whole_naming_the_position(
    case: str, data: bytes, error: str
) -> None:
    with pytest.raises(FormatError) as raised:
        read_cuscar(data, "drop/day.edi")

    assert str(raised.value).startswith("drop/day.edi: ")
    assert error in str(raised.value)


def test_a_time_with_fractions_of_a_second_is_not_written() -> None:
    record = generate_day(random.Random(17), DAY, 1)[0]
    late = record.model_copy(
        update={"expected_arrival": record.expected_arrival.replace(microsecond=500)}
    )

    with pytest.raises(
        ValueError, match=r"records\[0\]\.expected_arrival: .* fractions of a second"
    ):
        write_cuscar([late], "KZ-CIS", "KZ-CENTRE")


def test_an_overlong_interchange_party_is_not_written() -> None:
    with pytest.raises(ValueError, match="sender"):
        write_cuscar([], "X" * 36, "KZ-CENTRE")
