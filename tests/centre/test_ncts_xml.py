"""The CIS's NCTS-style XML transit declarations: valid against docs/ncts-transit.xsd, written
and read back unchanged, the sample read field by field, a bad declaration refused alone with
its XPath and line, and no DOCTYPE, entity or external reference ever read."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from lxml import etree  # type: ignore[import-untyped]

from centre.formats.cuscar import read_cuscar
from centre.formats.errors import FormatError, FormatReject
from centre.formats.ncts_xml import XSD_PATH, read_ncts_xml, schema, write_ncts_xml
from edge.manifest import Manifest
from edge.synthetic import generate_day
from tests.fixtures.cis.strategies import records

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cis"
SAMPLE = FIXTURES / "sample.ncts.xml"
DAY = dt.date(2026, 11, 28)


def _three_declarations() -> str:
    """The sample: its second declaration has a container, seals, a trailer and a VIN."""
    return SAMPLE.read_text(encoding="utf-8")


def _spoil_second(text: str, old: str, new: str) -> bytes:
    """The file with every `old` replaced by `new` in its second declaration only."""
    parts = text.split("<TransitDeclaration>")  # the head, then one part a declaration
    assert old in parts[2], old
    parts[2] = parts[2].replace(old, new)
    return "<TransitDeclaration>".join(parts).encode("utf-8")


def test_the_schema_is_well_formed_and_the_sample_is_valid_against_it() -> None:
    compiled = etree.XMLSchema(etree.parse(str(XSD_PATH)))

    compiled.assertValid(etree.parse(str(SAMPLE)))


def test_a_synthetic_day_of_records_is_written_valid_and_read_back_unchanged() -> None:
    day = generate_day(random.Random(22), DAY, 400)

    data = write_ncts_xml(day)

    schema().assertValid(etree.fromstring(data))
    assert read_ncts_xml(data, "day.xml") == day


@settings(max_examples=60, deadline=None)
@given(records())
def test_any_record_of_the_contract_survives_the_xml(record: Manifest) -> None:
    assert read_ncts_xml(write_ncts_xml([record]), "one.xml") == [record]


def test_a_thousand_declarations_in_one_file_read_back() -> None:
    day = generate_day(random.Random(23), DAY, 1000)

    back = read_ncts_xml(write_ncts_xml(day), "big.xml")

    assert len(back) == 1000
    assert back == day


def test_the_sample_reads_to_its_three_records() -> None:
    tir, replaced, export = read_ncts_xml(SAMPLE.read_bytes(), SAMPLE.name)

    assert isinstance(tir, Manifest)
    assert isinstance(replaced, Manifest)
    assert isinstance(export, Manifest)
    assert (tir.ref, tir.issuer, tir.procedure.value, tir.tir_carnet, tir.cmr) == (
        "26KZ00010000000123",
        "KZ-CIS",
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
    assert tir.goods[0].description == "Tractor parts + accessories"
    assert replaced.version == 2
    assert (replaced.transport.plate, replaced.transport.nationality, replaced.transport.vin) == (
        "А 123 ВС 77",
        "RU",
        "XTC65115R91234567",
    )
    assert [(s.id, s.type.value) for s in replaced.seals] == [
        ("CNC7654321", "mechanical"),
        ("ENP000123456", "electronic"),
        ("MSK1234567", "mechanical"),
    ]
    assert [(g.hs_code, g.packages, g.package_type) for g in replaced.goods] == [
        ("8517130000", 1200, "CT"),
        ("847130", 300, "CT"),
    ]
    assert replaced.consignor is not None
    assert replaced.consignor.name == "Yiwu Silkroad Import & Export Co., Ltd."
    assert (export.procedure.value, export.office_border) == ("export", "KZ051900")


def test_the_two_samples_hold_the_same_records() -> None:
    from_xml = read_ncts_xml(SAMPLE.read_bytes(), SAMPLE.name)
    from_edifact = read_cuscar((FIXTURES / "sample.cuscar.edi").read_bytes(), "sample.cuscar.edi")

    assert from_xml == from_edifact


BAD_DECLARATIONS = [
    # (what is wrong, text in the second declaration, what replaces it, what the reject says)
    ("a mass in words", "<grossMass>", "<grossMass>heavy", "grossMass': 'heavy"),
    ("no MRN", "MRN>", "LRN>", "Element 'LRN': This element is not expected. Expected is ( MRN )."),
    (
        "an unknown element",
        "<messageSender>",
        "<colour>red</colour><messageSender>",
        "Element 'colour': This element is not expected",
    ),
    (
        "an office of two letters",
        "<referenceNumber>KZ051900",
        "<referenceNumber>K",
        "The value 'K' is not accepted by the pattern",
    ),
    (
        "a nationality no country has",
        "<nationality>RU</nationality>",
        "<nationality>XX</nationality>",
        "transport.nationality: 'XX' is not an ISO 3166-1 alpha-2 country code (Consignment/DepartureTransportMeans, line",
    ),
    (
        "a wrong container check digit",
        "<containerIdentificationNumber>",
        "<containerIdentificationNumber>X",
        "equipment[0].id: 'X",
    ),
    ("seals miscounted", "<numberOfSeals>", "<numberOfSeals>9", "numberOfSeals is 9"),
    (
        "an arrival without a zone",
        "Z</arrivalDateAndTimeEstimated>",
        "</arrivalDateAndTimeEstimated>",
        "expected_arrival: '2026-11-28T09:15:30' has no UTC offset",
    ),
    (
        "a second road vehicle",
        "<typeOfIdentification>31</typeOfIdentification>",
        "<typeOfIdentification>30</typeOfIdentification>",
        "a second road vehicle (30)",
    ),
]


@pytest.mark.parametrize(
    ("case", "old", "new", "reason"), BAD_DECLARATIONS, ids=[c[0] for c in BAD_DECLARATIONS]
)
def test_a_bad_declaration_is_refused_alone_naming_where(
    case: str, old: str, new: str, reason: str
) -> None:
    text = _three_declarations()

    results = read_ncts_xml(_spoil_second(text, old, new), "bad.xml")

    assert [type(r).__name__ for r in results] == ["Manifest", "FormatReject", "Manifest"]
    reject = results[1]
    assert isinstance(reject, FormatReject)
    assert reject.index == 2
    assert any(reason in r for r in reject.reasons), reject.reasons
    assert str(reject).startswith("declaration 2")


def test_an_element_that_is_no_declaration_is_refused_alone() -> None:
    text = _three_declarations().replace(
        "<TransitDeclaration>", "<Remark>a note</Remark>\n  <TransitDeclaration>", 1
    )

    results = read_ncts_xml(text.encode("utf-8"), "bad.xml")

    assert [type(r).__name__ for r in results] == [
        "FormatReject",
        "Manifest",
        "Manifest",
        "Manifest",
    ]
    assert isinstance(results[0], FormatReject)
    assert (
        "No matching global declaration available for the validation root" in results[0].reasons[0]
    )


def test_a_declaration_the_schema_refuses_names_its_line() -> None:
    text = _three_declarations()
    data = _spoil_second(text, "<grossMass>", "<grossMass>heavy")
    line = next(n for n, row in enumerate(data.decode().splitlines(), start=1) if "heavy" in row)

    reject = read_ncts_xml(data, "bad.xml")[1]

    assert isinstance(reject, FormatReject)
    assert reject.ref is not None
    assert reject.reasons[0].startswith(f"line {line}: Element 'grossMass'")


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE TransitDeclarations [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<TransitDeclarations xmlns="urn:carec-edge:ncts-transit:1"><TransitDeclaration>
<messageSender>&secret;</messageSender></TransitDeclaration></TransitDeclarations>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<TransitDeclarations xmlns="urn:carec-edge:ncts-transit:1">&lol3;</TransitDeclarations>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE TransitDeclarations SYSTEM "http://127.0.0.1:9/ncts.dtd">
<TransitDeclarations xmlns="urn:carec-edge:ncts-transit:1"/>"""
BAD_FILES = [
    ("an external entity", XXE, "a DOCTYPE is refused"),
    ("nested entities", LAUGHS, "a DOCTYPE is refused"),
    ("an external DTD", EXTERNAL_DTD, "a DOCTYPE is refused"),
    (
        "an unclosed element",
        b"<TransitDeclarations xmlns='urn:carec-edge:ncts-transit:1'>\n<TransitDeclaration>",
        "not well-formed XML at line 2",
    ),
    (
        "an EDIFACT file",
        b"UNA:+.? 'UNB+UNOW:4+KZ-CIS+KZ-CENTRE+20261127:2300+R'",
        "not well-formed XML at line 1, column 1",
    ),
    (
        "another root",
        b"<CC015C xmlns='urn:carec-edge:ncts-transit:1'/>",
        "the root element is CC015C",
    ),
    (
        "no namespace",
        b"<TransitDeclarations/>",
        "in namespace None; expected TransitDeclarations in 'urn:carec-edge:ncts-transit:1'",
    ),
]


@pytest.mark.parametrize(("case", "data", "error"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_file_that_cannot_be_read_safely_is_refused_whole(
    case: str, data: bytes, error: str
) -> None:
    with pytest.raises(FormatError) as raised:
        read_ncts_xml(data, "drop/day.xml")

    assert str(raised.value).startswith("drop/day.xml: ")
    assert error in str(raised.value)
    assert "root:" not in str(raised.value)  # nothing of /etc/passwd


def test_an_arrival_with_fractions_of_a_second_survives_the_xml() -> None:
    record = generate_day(random.Random(25), DAY, 1)[0]
    precise = record.model_copy(
        update={"expected_arrival": record.expected_arrival.replace(microsecond=250_000)}
    )

    assert read_ncts_xml(write_ncts_xml([precise]), "precise.xml") == [precise]


def test_a_text_xml_cannot_carry_is_not_written() -> None:
    record = generate_day(random.Random(24), DAY, 1)[0]
    bell = record.model_copy(update={"cmr": "KZ\x07-2026"})

    with pytest.raises(ValueError, match=r"records\[0\]: "):
        write_ncts_xml([bell])
