"""One CUSCAR message's segments read into the contract's fields (docs/centre-formats.md),
remembering which segment gave each field, so that a contract reason can name its segment.

Segments and qualifiers outside the table are read over; a field given twice, a value its
segment cannot hold (a date that is no date, a count that is no number) or a segment that is
no segment is a problem, and any problem refuses the message."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from pydifact.segments import Segment

from centre.formats.edifact import BrokenSegment, RawMessage, components, element
from centre.formats.mapping import locate

_NUMBER = re.compile(r"^[0-9]+$")
_DECIMAL = re.compile(r"^[0-9]+(?:[.,][0-9]+)?$")
_DATE_FORMATS = {"102": "%Y%m%d", "203": "%Y%m%d%H%M", "204": "%Y%m%d%H%M%S"}
_MOVEMENTS = {"1": "export", "2": "import", "3": "transit"}
_BORDER = ("42", "135")
_SEAL_TYPES = {"1": "mechanical", "2": "electronic", "": "mechanical"}
_DRIVER_DOCUMENTS = ("P", "ID", "DL")
_FUNCTIONS = ("9", "5", "")  # original, replace (UNCL 1225)
# Where a missing field of the contract would have come from.
_SEGMENT_OF = {
    "ref": "BGM", "version": "BGM", "issuer": "NAD+MS", "procedure": "GOR",
    "office_departure": "LOC+118", "office_destination": "LOC+122",
    "office_border": "LOC+42 or LOC+135", "expected_arrival": "DTM+132", "transport": "TDT",
    "driver": "NAD+FM", "carrier": "NAD+CA", "consignor": "NAD+CZ", "consignee": "NAD+CN",
    "goods": "GID", "ucr": "RFF+UCN", "cmr": "DOC+730", "tir_carnet": "DOC+952",
}  # fmt: skip


class MessageReader:
    """Reads `message` at construction: `record` (the contract's JSON object), `problems`,
    `ref` (the BGM's document number, when there is one)."""

    def __init__(self, message: RawMessage) -> None:
        self.record: dict[str, Any] = {}
        self.problems: list[str] = []
        self.ref: str | None = None
        self._sources: dict[str, str] = {}
        self._group = ""  # the group the last trigger segment opened: FM (driver), TDT, GID
        self._number = 0
        handlers: dict[str, Callable[[Segment], None]] = {
            "UNH": self._unh, "BGM": self._bgm, "NAD": self._nad, "DTM": self._dtm,
            "DOC": self._doc, "NAT": self._nat, "TDT": self._tdt, "RFF": self._rff,
            "LOC": self._loc, "EQD": self._eqd, "SEL": self._sel, "GOR": self._gor,
            "GID": self._gid, "FTX": self._ftx, "MEA": self._mea, "CST": self._cst,
            "CNI": self._close_group,
        }  # fmt: skip
        for self._number, segment in enumerate(message.segments, start=1):
            if isinstance(segment, BrokenSegment):
                tag = segment.text[:20]
                self._problem(f"{tag!r} is not a segment tag (an unreleased ' or + in a text?)")
                continue
            handler = handlers.get(segment.tag)
            if handler is not None:
                handler(segment)
        if "ref" not in self.record:
            self.problems.append("BGM missing: the message has no document number")

    def locate(self, reason: str) -> str:
        """A contract reason (`goods[0].hs_code: ...`) with the segment its field came from."""
        return locate(reason, self._sources, _SEGMENT_OF)

    # -- helpers ------------------------------------------------------------------------

    def _here(self, segment: Segment) -> str:
        return f"{segment.tag}, segment {self._number}"

    def _problem(self, text: str, segment: Segment | None = None) -> None:
        where = self._here(segment) if segment is not None else f"segment {self._number}"
        self.problems.append(f"{where}: {text}")

    def _set(self, path: str, value: Any, segment: Segment) -> bool:
        """Sets a top-level field once; a second time is a problem (which one would count?)."""
        if path in self.record:
            self._problem(f"{path} given again (first at {self._sources[path]})", segment)
            return False
        self.record[path] = value
        self._sources[path] = self._here(segment)
        return True

    def _append(self, path: str, item: dict[str, Any], segment: Segment) -> None:
        items = self.record.setdefault(path, [])
        self._sources[f"{path}[{len(items)}]"] = self._here(segment)
        items.append(item)

    def _in_group(self, group: str, segment: Segment) -> bool:
        if self._group != group:
            opener = {"FM": "NAD+FM", "GID": "GID", "TDT": "TDT"}[group]
            self._problem(f"belongs after {opener}, not here", segment)
        return self._group == group

    def _close_group(self, _: Segment) -> None:
        self._group = ""

    # -- segments -----------------------------------------------------------------------

    def _unh(self, segment: Segment) -> None:
        if element(segment, 1) != "CUSCAR":
            self._problem(f"message type {element(segment, 1)!r}, expected CUSCAR", segment)

    def _bgm(self, segment: Segment) -> None:
        ref, version = element(segment, 1), element(segment, 1, 1)
        if self._set("ref", ref, segment):
            self.ref = ref or None
        if version:
            if _NUMBER.match(version):
                self._set("version", int(version), segment)
            else:
                self._problem(f"version {version!r} is not a number", segment)
        if element(segment, 2) not in _FUNCTIONS:
            function = element(segment, 2)
            self._problem(f"message function {function!r}: 9 (original) or 5 (replace)", segment)

    def _nad(self, segment: Segment) -> None:
        qualifier = element(segment, 0)
        self._group = "FM" if qualifier == "FM" else ""
        if qualifier == "MS":
            self._set("issuer", element(segment, 1), segment)
        elif qualifier == "FM":
            self._set("driver", {"name": "".join(components(segment, 3))}, segment)
        elif qualifier in ("CA", "CZ", "CN"):
            party: dict[str, Any] = {"name": "".join(components(segment, 3))}
            if element(segment, 1):
                party["id"] = element(segment, 1)
            if element(segment, 8):
                party["country"] = element(segment, 8)
            field = {"CA": "carrier", "CZ": "consignor", "CN": "consignee"}[qualifier]
            self._set(field, party, segment)

    def _dtm(self, segment: Segment) -> None:
        qualifier = element(segment, 0)
        if qualifier not in ("132", "329"):
            return
        moment = self._moment(segment)
        if moment is None:
            return
        if qualifier == "132":
            self._set("expected_arrival", f"{moment.isoformat()}Z", segment)
        elif self._in_group("FM", segment):
            self._driver_field("birth_date", moment.date().isoformat(), segment)

    def _moment(self, segment: Segment) -> dt.datetime | None:
        text, form = element(segment, 0, 1), element(segment, 0, 2) or "102"
        if form not in _DATE_FORMATS:
            self._problem(f"date format {form!r}: 102, 203 or 204 are read", segment)
            return None
        try:
            return dt.datetime.strptime(text, _DATE_FORMATS[form])
        except ValueError:
            self._problem(f"{text!r} is not a date of format {form}", segment)
            return None

    def _driver_field(self, name: str, value: str, segment: Segment) -> None:
        driver = self.record["driver"]
        if name in driver:
            self._problem(f"driver.{name} given again", segment)
        driver[name] = value
        self._sources[f"driver.{name}"] = self._here(segment)

    def _doc(self, segment: Segment) -> None:
        code, number = element(segment, 0), element(segment, 1)
        if code == "730":
            self._set("cmr", number, segment)
        elif code == "952":
            self._set("tir_carnet", number, segment)
        elif code in _DRIVER_DOCUMENTS and self._in_group("FM", segment):
            self._driver_field("document_type", code, segment)
            self._driver_field("document_number", number, segment)

    def _nat(self, segment: Segment) -> None:
        if element(segment, 0) == "2" and self._in_group("FM", segment):
            self._driver_field("nationality", element(segment, 1), segment)

    def _tdt(self, segment: Segment) -> None:
        self._group = "TDT"
        vehicle = {"plate": element(segment, 7), "nationality": element(segment, 7, 4)}
        self._set("transport", vehicle, segment)

    def _rff(self, segment: Segment) -> None:
        qualifier, value = element(segment, 0), element(segment, 0, 1)
        if qualifier == "UCN":
            self._set("ucr", value, segment)
        elif qualifier == "ZZZ" and self._in_group("TDT", segment):
            transport = self.record["transport"]
            if "vin" in transport:
                self._problem("transport.vin given again", segment)
            transport["vin"] = value
            self._sources["transport.vin"] = self._here(segment)

    def _loc(self, segment: Segment) -> None:
        qualifier, office = element(segment, 0), element(segment, 1)
        if qualifier == "118":
            self._set("office_departure", office, segment)
        elif qualifier == "122":
            self._set("office_destination", office, segment)
        elif qualifier in _BORDER:
            self._set("office_border", office, segment)

    def _eqd(self, segment: Segment) -> None:
        self._group = ""
        qualifier = element(segment, 0)
        if qualifier == "TE":
            trailer = {"plate": element(segment, 1), "nationality": element(segment, 1, 3)}
            self._append("trailers", trailer, segment)
        elif qualifier == "CN":
            container = {"id": element(segment, 1)}
            if element(segment, 2):
                container["size_type"] = element(segment, 2)
            self._append("equipment", container, segment)

    def _sel(self, segment: Segment) -> None:
        kind = element(segment, 4)
        if kind not in _SEAL_TYPES:
            self._problem(f"seal type {kind!r}: 1 (mechanical) or 2 (electronic)", segment)
            return
        seal = {"id": element(segment, 0), "type": _SEAL_TYPES[kind]}
        if element(segment, 1):
            seal["party"] = element(segment, 1)
        self._append("seals", seal, segment)

    def _gor(self, segment: Segment) -> None:
        movement = element(segment, 0)
        if movement not in _MOVEMENTS:
            self._problem(f"movement {movement!r}: 1 export, 2 import or 3 transit", segment)
            return
        self._set("procedure", _MOVEMENTS[movement], segment)

    def _gid(self, segment: Segment) -> None:
        self._group = "GID"
        seq, packages = element(segment, 0), element(segment, 1)
        goods: dict[str, Any] = {}
        if not _NUMBER.match(seq):
            self._problem(f"goods item number {seq!r} is not a number", segment)
        else:
            goods["seq"] = int(seq)
        if packages:
            if _NUMBER.match(packages):
                goods["packages"] = int(packages)
            else:
                self._problem(f"number of packages {packages!r} is not a number", segment)
        if element(segment, 1, 1):
            goods["package_type"] = element(segment, 1, 1)
        self._append("goods", goods, segment)

    def _goods_field(self, name: str, value: Any, segment: Segment) -> None:
        goods = self.record["goods"][-1]
        if name in goods:
            self._problem(f"goods item {goods.get('seq')}: {name} given again", segment)
        goods[name] = value
        self._sources[f"goods[{len(self.record['goods']) - 1}].{name}"] = self._here(segment)

    def _ftx(self, segment: Segment) -> None:
        if element(segment, 0) != "AAA" or not self._in_group("GID", segment):
            return
        goods = self.record["goods"][-1]
        goods["description"] = goods.get("description", "") + "".join(components(segment, 3))
        path = f"goods[{len(self.record['goods']) - 1}].description"
        self._sources.setdefault(path, self._here(segment))

    def _mea(self, segment: Segment) -> None:
        if element(segment, 0) != "AAE" or element(segment, 1) != "G":
            return
        if not self._in_group("GID", segment):
            return
        unit, value = element(segment, 2), element(segment, 2, 1)
        if unit != "KGM":
            self._problem(f"gross mass in {unit!r}: the contract holds kilograms (KGM)", segment)
        elif not _DECIMAL.match(value):
            self._problem(f"gross mass {value!r} is not a number", segment)
        else:
            self._goods_field("gross_mass_kg", float(value.replace(",", ".")), segment)

    def _cst(self, segment: Segment) -> None:
        if self._in_group("GID", segment):
            self._goods_field("hs_code", element(segment, 1), segment)
