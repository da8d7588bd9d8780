"""One TransitDeclaration, already valid against docs/ncts-transit.xsd, read into the contract's
fields, remembering the XPath and line each field came from so that a contract reason can name
them. What the XSD cannot say (one road vehicle, numberOfSeals agreeing with the seals) is
checked here."""

from __future__ import annotations

import functools
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from centre.formats.mapping import locate

NS = "urn:carec-edge:ncts-transit:1"
_N = f"{{{NS}}}"
_BORDER_OFFICES = ("CustomsOfficeOfTransitDeclared", "CustomsOfficeOfExitForTransitDeclared")
# Where a missing field of the contract would have come from.
_XPATH_OF = {
    "ref": "TransitOperation/MRN", "version": "TransitOperation/versionNumber",
    "issuer": "messageSender", "procedure": "TransitOperation/procedure",
    "tir_carnet": "TransitOperation/TIRCarnetNumber",
    "office_departure": "CustomsOfficeOfDeparture/referenceNumber",
    "office_destination": "CustomsOfficeOfDestinationDeclared/referenceNumber",
    "office_border": "CustomsOfficeOfTransitDeclared/referenceNumber",
    "expected_arrival": "CustomsOfficeOfTransitDeclared/arrivalDateAndTimeEstimated",
    "transport": "Consignment/DepartureTransportMeans with typeOfIdentification 30",
    "ucr": "Consignment/referenceNumberUCR", "driver": "Consignment/Driver",
    "carrier": "Consignment/Carrier", "consignor": "Consignment/Consignor",
    "consignee": "Consignment/Consignee", "cmr": "Consignment/TransportDocument",
    "goods": "Consignment/HouseConsignment/ConsignmentItem",
}  # fmt: skip


_PARTIES = (("carrier", "Carrier"), ("consignor", "Consignor"), ("consignee", "Consignee"))
_DRIVER = {
    "name": "name", "documentType": "document_type", "documentNumber": "document_number",
    "nationality": "nationality", "birthDate": "birth_date",
}  # fmt: skip


@functools.cache  # a few dozen paths, built once instead of per element looked up
def _path(*names: str) -> str:
    return "/".join(_N + name for name in names)


def _text(element: etree._Element, *names: str) -> str | None:
    found = element.find(_path(*names))
    return None if found is None else (found.text or "")


class DeclarationReader:
    """`ref` is read at construction (to name a declaration the XSD refuses); `read()` fills
    `record` (the contract's JSON object) and `problems`."""

    def __init__(self, declaration: etree._Element) -> None:
        self.declaration = declaration
        self.ref = _text(declaration, "TransitOperation", "MRN") or None
        self.record: dict[str, Any] = {}
        self.problems: list[str] = []
        self._sources: dict[str, str] = {}

    def locate(self, reason: str) -> str:
        return locate(reason, self._sources, _XPATH_OF)

    def _put(self, field: str, element: etree._Element | None, xpath: str) -> None:
        if element is not None:
            self.record[field] = element.text or ""
            self._sources[field] = f"{xpath}, line {element.sourceline}"

    def read(self) -> None:
        declaration = self.declaration
        operation = declaration.find(_path("TransitOperation"))
        assert operation is not None  # the XSD requires it
        self._put("ref", operation.find(_path("MRN")), "TransitOperation/MRN")
        self._put("issuer", declaration.find(_path("messageSender")), "messageSender")
        self._put("procedure", operation.find(_path("procedure")), "TransitOperation/procedure")
        self._put(
            "tir_carnet",
            operation.find(_path("TIRCarnetNumber")),
            "TransitOperation/TIRCarnetNumber",
        )
        version = operation.find(_path("versionNumber"))
        if version is not None:
            self.record["version"] = int(version.text or "0")
            self._sources["version"] = f"TransitOperation/versionNumber, line {version.sourceline}"
        for field, office in (
            ("office_departure", "CustomsOfficeOfDeparture"),
            ("office_destination", "CustomsOfficeOfDestinationDeclared"),
        ):
            reference = declaration.find(_path(office, "referenceNumber"))
            self._put(field, reference, office + "/referenceNumber")
        for office in _BORDER_OFFICES:
            border = declaration.find(_path(office))
            if border is not None:
                reference = border.find(_path("referenceNumber"))
                self._put("office_border", reference, office + "/referenceNumber")
                self._put(
                    "expected_arrival", border.find(_path("arrivalDateAndTimeEstimated")),
                    office + "/arrivalDateAndTimeEstimated",
                )  # fmt: skip
        consignment = declaration.find(_path("Consignment"))
        assert consignment is not None  # the XSD requires it
        self._consignment(consignment)

    def _consignment(self, consignment: etree._Element) -> None:
        ucr = consignment.find(_path("referenceNumberUCR"))
        self._put("ucr", ucr, "Consignment/referenceNumberUCR")
        for field, name in _PARTIES:
            element = consignment.find(_path(name))
            if element is not None:
                party = {"name": _text(element, "name")}
                if (id_ := _text(element, "identificationNumber")) is not None:
                    party["id"] = id_
                if (country := _text(element, "Address", "country")) is not None:
                    party["country"] = country
                self._set(field, party, element, f"Consignment/{name}")
        driver = consignment.find(_path("Driver"))
        if driver is not None:
            fields = {_DRIVER[etree.QName(child).localname]: child.text or "" for child in driver}
            self._set("driver", fields, driver, "Consignment/Driver")
        self._equipment(consignment.findall(_path("TransportEquipment")))
        self._means(consignment.findall(_path("DepartureTransportMeans")))
        document = consignment.find(_path("TransportDocument"))
        if document is not None:
            number = document.find(_path("referenceNumber"))
            self._put("cmr", number, "Consignment/TransportDocument/referenceNumber")
        items = consignment.findall(_path("HouseConsignment", "ConsignmentItem"))
        self.record["goods"] = [self._item(index, item) for index, item in enumerate(items)]

    def _set(self, field: str, value: Any, element: etree._Element, xpath: str) -> None:
        self.record[field] = value
        self._sources[field] = f"{xpath}, line {element.sourceline}"

    def _equipment(self, equipment: list[etree._Element]) -> None:
        containers: list[dict[str, str | None]] = []
        seals: list[dict[str, str | None]] = []
        for element in equipment:
            number = _text(element, "containerIdentificationNumber")
            if number is not None:
                where = f"Consignment/TransportEquipment, line {element.sourceline}"
                self._sources[f"equipment[{len(containers)}]"] = where
                container: dict[str, str | None] = {"id": number}
                if (size := _text(element, "containerSizeAndType")) is not None:
                    container["size_type"] = size
                containers.append(container)
            found = element.findall(_path("Seal"))
            declared = _text(element, "numberOfSeals")
            if declared is not None and int(declared) != len(found):
                self.problems.append(
                    f"Consignment/TransportEquipment, line {element.sourceline}: numberOfSeals "
                    f"is {declared}, {len(found)} Seal elements follow"
                )
            for seal in found:
                where = f"Consignment/TransportEquipment/Seal, line {seal.sourceline}"
                self._sources[f"seals[{len(seals)}]"] = where
                item = {"id": _text(seal, "identifier")}
                if (kind := _text(seal, "type")) is not None:
                    item["type"] = kind
                if (party := _text(seal, "sealingParty")) is not None:
                    item["party"] = party
                seals.append(item)
        if containers:
            self.record["equipment"] = containers
        if seals:
            self.record["seals"] = seals

    def _means(self, means: list[etree._Element]) -> None:
        trailers: list[dict[str, str | None]] = []
        for element in means:
            kind = _text(element, "typeOfIdentification")
            where = f"Consignment/DepartureTransportMeans, line {element.sourceline}"
            vehicle = {
                "plate": _text(element, "identificationNumber"),
                "nationality": _text(element, "nationality"),
            }
            vin = _text(element, "vehicleIdentificationNumber")
            if kind == "30":
                if "transport" in self.record:
                    self.problems.append(f"{where}: a second road vehicle (30), of one")
                if vin is not None:
                    vehicle["vin"] = vin
                self._sources["transport"] = where
                self.record["transport"] = vehicle
            else:
                if vin is not None:
                    self.problems.append(f"{where}: vehicleIdentificationNumber on a trailer (31)")
                self._sources[f"trailers[{len(trailers)}]"] = where
                trailers.append(vehicle)
        if trailers:
            self.record["trailers"] = trailers

    def _item(self, index: int, item: etree._Element) -> dict[str, Any]:
        where = f"Consignment/HouseConsignment/ConsignmentItem, line {item.sourceline}"
        self._sources[f"goods[{index}]"] = where
        code = ("Commodity", "CommodityCode")
        heading = _text(item, *code, "harmonizedSystemSubHeadingCode") or ""
        goods: dict[str, Any] = {
            "seq": int(_text(item, "goodsItemNumber") or "0"),
            "description": _text(item, "Commodity", "descriptionOfGoods"),
            "hs_code": heading + (_text(item, *code, "combinedNomenclatureCode") or ""),
            "gross_mass_kg": float(_text(item, "Commodity", "GoodsMeasure", "grossMass") or "0"),
        }
        if (kind := _text(item, "Packaging", "typeOfPackages")) is not None:
            goods["package_type"] = kind
        if (count := _text(item, "Packaging", "numberOfPackages")) is not None:
            goods["packages"] = int(count)
        return goods
