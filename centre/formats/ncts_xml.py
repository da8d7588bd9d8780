"""XML transit declarations modelled on EU NCTS phase 5 (IE015) <-> the e-manifest contract:
one TransitDeclaration per record in one TransitDeclarations file, valid against
docs/ncts-transit.xsd. The element table, and what is refused and why, is
docs/centre-formats.md.

The file is parsed without DTDs, entities or network access (a DOCTYPE is refused), then each
declaration is validated against the XSD on its own: one that fails, or that the contract
refuses, becomes a FormatReject naming its XPath and line; the others are still read."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

from centre.formats.errors import FormatError, FormatReject
from centre.formats.mapping import decimal_text
from centre.formats.ncts_xml_read import NS, DeclarationReader
from edge.manifest import ContractError, Manifest, Party, Procedure, parse_manifest

XSD_PATH = Path(__file__).resolve().parents[2] / "docs" / "ncts-transit.xsd"
ROOT = f"{{{NS}}}TransitDeclarations"
VEHICLE, TRAILER = "30", "31"  # NCTS CL750: road vehicle, road trailer
ROAD_CONSIGNMENT_NOTE = "N730"  # NCTS CL754
_CLARK = re.compile(r"\{[^}]*\}")


# No DTD loaded, no entity expanded, nothing fetched, libxml2's size limits kept.
_SAFE = {
    "resolve_entities": False, "no_network": True, "huge_tree": False, "load_dtd": False,
    "dtd_validation": False, "remove_comments": True, "remove_pis": True,
}  # fmt: skip


@functools.cache
def schema() -> etree.XMLSchema:
    """docs/ncts-transit.xsd, compiled once."""
    return etree.XMLSchema(etree.parse(str(XSD_PATH), etree.XMLParser(**_SAFE)))


def read_ncts_xml(data: bytes, where: str) -> list[Manifest | FormatReject]:
    """Every declaration of the file, in order: a Manifest, or a FormatReject with reasons.
    Raises FormatError for a file that is not well-formed, has a DOCTYPE or another root."""
    return list(iter_ncts_xml(data, where))


def iter_ncts_xml(data: bytes, where: str) -> Iterator[Manifest | FormatReject]:
    """read_ncts_xml one declaration at a time, each dropped from the tree once read, for
    files too large to hold as a tree. A FormatError may come after records were yielded (the
    file not well-formed further on): take none of them unless the iteration ends without one."""
    validator = schema()
    depth, index = 0, 0
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), **_SAFE)
    try:
        for event, element in events:
            depth += 1 if event == "start" else -1
            if event == "start" and depth == 1:
                _check_root(element, where)
            elif event == "end" and depth == 1:  # a declaration (a child of the root) is whole
                index += 1
                yield _read_declaration(validator, index, element)
                element.clear(keep_tail=True)
                while element.getprevious() is not None:
                    del element.getparent()[0]
    except etree.XMLSyntaxError as error:
        line, column = error.position
        raise FormatError(
            f"{where}: not well-formed XML at line {line}, column {column}: {error.msg}"
        ) from None


def _check_root(root: etree._Element, where: str) -> None:
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise FormatError(f"{where}: a DOCTYPE is refused (entities and DTDs are not read)")
    if root.tag != ROOT:
        raise FormatError(
            f"{where}: the root element is {_CLARK.sub('', str(root.tag))} in namespace "
            f"{etree.QName(root).namespace!r}; expected TransitDeclarations in {NS!r}"
        )


def _read_declaration(
    validator: etree.XMLSchema, index: int, declaration: etree._Element
) -> Manifest | FormatReject:
    reader = DeclarationReader(declaration)
    if not validator.validate(declaration):
        reasons = [
            f"line {error.line}: {_CLARK.sub('', error.message)}" for error in validator.error_log
        ]
        return FormatReject(index, reader.ref, reasons, kind="declaration")
    reader.read()
    if reader.problems:
        return FormatReject(index, reader.ref, reader.problems, kind="declaration")
    try:
        return parse_manifest(reader.record)
    except ContractError as error:
        reasons = [reader.locate(reason) for reason in error.reasons]
        return FormatReject(index, reader.ref, reasons, kind="declaration")


# -- writing ------------------------------------------------------------------------------


def write_ncts_xml(records: Sequence[Manifest]) -> bytes:
    """One TransitDeclarations file, UTF-8, a TransitDeclaration per record. Raises
    ValueError for a record XML 1.0 cannot carry (a control character in a text)."""
    root = etree.Element(ROOT, nsmap={None: NS})
    for number, record in enumerate(records):
        try:
            _declaration(root, record)
        except ValueError as error:
            raise ValueError(f"records[{number}]: {error}") from None
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        child.text = text
    return child


def _declaration(root: etree._Element, record: Manifest) -> None:
    declaration = _add(root, "TransitDeclaration")
    _add(declaration, "messageSender", record.issuer)
    operation = _add(declaration, "TransitOperation")
    _add(operation, "MRN", record.ref)
    _add(operation, "versionNumber", str(record.version))
    _add(operation, "procedure", record.procedure.value)
    if record.tir_carnet:
        _add(operation, "TIRCarnetNumber", record.tir_carnet)
    for name, office in (
        ("CustomsOfficeOfDeparture", record.office_departure),
        ("CustomsOfficeOfDestinationDeclared", record.office_destination),
    ):
        if office:
            _add(_add(declaration, name), "referenceNumber", office)
    exit_office = record.procedure is Procedure.EXPORT
    border = _add(
        declaration,
        "CustomsOfficeOfExitForTransitDeclared"
        if exit_office
        else "CustomsOfficeOfTransitDeclared",
    )
    _add(border, "referenceNumber", record.office_border)
    _add(border, "arrivalDateAndTimeEstimated", _utc(record))
    _consignment(_add(declaration, "Consignment"), record)


def _utc(record: Manifest) -> str:
    return record.expected_arrival.isoformat().replace("+00:00", "Z")


def _consignment(consignment: etree._Element, record: Manifest) -> None:
    if record.ucr:
        _add(consignment, "referenceNumberUCR", record.ucr)
    for name, party in (
        ("Carrier", record.carrier), ("Consignor", record.consignor),
        ("Consignee", record.consignee),
    ):  # fmt: skip
        if party:
            _party(_add(consignment, name), party)
    if record.driver:
        driver = _add(consignment, "Driver")
        _add(driver, "name", record.driver.name)
        _add(driver, "documentType", record.driver.document_type.value)
        _add(driver, "documentNumber", record.driver.document_number)
        if record.driver.nationality:
            _add(driver, "nationality", record.driver.nationality)
        if record.driver.birth_date:
            _add(driver, "birthDate", record.driver.birth_date.isoformat())
    sequence = 0
    for container in record.equipment:
        sequence += 1
        equipment = _add(consignment, "TransportEquipment")
        _add(equipment, "sequenceNumber", str(sequence))
        _add(equipment, "containerIdentificationNumber", container.id)
        if container.size_type:
            _add(equipment, "containerSizeAndType", container.size_type)
    if record.seals:  # the contract's seals are not per container: one equipment holds them
        equipment = _add(consignment, "TransportEquipment")
        _add(equipment, "sequenceNumber", str(sequence + 1))
        _add(equipment, "numberOfSeals", str(len(record.seals)))
        for number, seal in enumerate(record.seals, start=1):
            element = _add(equipment, "Seal")
            _add(element, "sequenceNumber", str(number))
            _add(element, "identifier", seal.id)
            _add(element, "type", seal.type.value)
            if seal.party:
                _add(element, "sealingParty", seal.party.value)
    _means(consignment, 1, VEHICLE, record.transport.plate, record.transport.nationality)
    if record.transport.vin:
        _add(consignment[-1], "vehicleIdentificationNumber", record.transport.vin)
    for number, trailer in enumerate(record.trailers, start=2):
        _means(consignment, number, TRAILER, trailer.plate, trailer.nationality)
    if record.cmr:
        document = _add(consignment, "TransportDocument")
        _add(document, "sequenceNumber", "1")
        _add(document, "type", ROAD_CONSIGNMENT_NOTE)
        _add(document, "referenceNumber", record.cmr)
    _goods(_add(consignment, "HouseConsignment"), record)


def _party(element: etree._Element, party: Party) -> None:
    if party.id:
        _add(element, "identificationNumber", party.id)
    _add(element, "name", party.name)
    if party.country:
        _add(_add(element, "Address"), "country", party.country)


def _means(consignment: etree._Element, number: int, kind: str, plate: str, country: str) -> None:
    means = _add(consignment, "DepartureTransportMeans")
    _add(means, "sequenceNumber", str(number))
    _add(means, "typeOfIdentification", kind)
    _add(means, "identificationNumber", plate)
    _add(means, "nationality", country)


def _goods(house: etree._Element, record: Manifest) -> None:
    _add(house, "sequenceNumber", "1")
    for goods in record.goods:
        item = _add(house, "ConsignmentItem")
        _add(item, "goodsItemNumber", str(goods.seq))
        commodity = _add(item, "Commodity")
        _add(commodity, "descriptionOfGoods", goods.description)
        code = _add(commodity, "CommodityCode")
        _add(code, "harmonizedSystemSubHeadingCode", goods.hs_code[:6])
        if len(goods.hs_code) > 6:
            _add(code, "combinedNomenclatureCode", goods.hs_code[6:])
        _add(_add(commodity, "GoodsMeasure"), "grossMass", decimal_text(goods.gross_mass_kg))
        if goods.packages is not None or goods.package_type:
            packaging = _add(item, "Packaging")
            _add(packaging, "sequenceNumber", "1")
            if goods.package_type:
                _add(packaging, "typeOfPackages", goods.package_type)
            if goods.packages is not None:
                _add(packaging, "numberOfPackages", str(goods.packages))
