"""The pre-arrival e-manifest: the exchange record of `docs/emanifest.md` as a typed,
validated model. A record that breaks the contract is rejected whole, with a reason per field."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from edge.codes import COUNTRIES_ALPHA2, NATIONALITIES_ALPHA3, container_number_error, is_hs_code
from edge.json_input import JsonInputError, parse_json
from edge.store.schema import MAX_STORED_INT
from edge.timeutil import parse_utc, today


def _country(code: str) -> str:
    if code not in COUNTRIES_ALPHA2:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _nationality(code: str) -> str:
    if code not in NATIONALITIES_ALPHA3:
        raise ValueError(f"{code!r} is not an ICAO 9303 / ISO 3166-1 alpha-3 nationality code")
    return code


def _hs_code(code: str) -> str:
    if not is_hs_code(code):
        raise ValueError(f"{code!r} is not an HS code of 6 to 10 digits")
    return code


def _container(number: str) -> str:
    error = container_number_error(number)
    if error:
        raise ValueError(f"{number!r} is not an ISO 6346 container number: {error}")
    return number


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISSUER = re.compile(r"^[A-Z]{2}-[A-Z0-9]+(?:-[A-Z0-9]+)*$")


def _issuer(value: str) -> str:
    if not _ISSUER.match(value) or value[:2] not in COUNTRIES_ALPHA2:
        raise ValueError(f"{value!r} is not a CIS or node id such as KZ-CIS or KZ-NURZHOLY-1")
    return value


def _visible(value: str) -> str:
    # the schema's "\S": a control character such as U+001F, which the strip keeps, is no text
    if not any(ch.isprintable() and not ch.isspace() for ch in value):
        raise ValueError("must hold a visible character")
    return value


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512),
    AfterValidator(_visible),
]  # fmt: skip
Country = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_country)]
Nationality = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_nationality)]
OfficeCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z0-9]{1,15}$")]

# NCTS sizes: a goods item number has at most 5 digits, a number of packages at most 8.
MAX_GOODS_ITEM = 99_999
MAX_PACKAGES = 99_999_999


class Procedure(StrEnum):
    TRANSIT = "transit"
    EXPORT = "export"
    IMPORT = "import"


class DocumentType(StrEnum):
    PASSPORT = "P"
    IDENTITY_CARD = "ID"
    DRIVING_LICENCE = "DL"


class SealType(StrEnum):
    MECHANICAL = "mechanical"
    ELECTRONIC = "electronic"


class SealParty(StrEnum):
    CARRIER = "CA"
    CUSTOMS = "CU"
    SHIPPER = "SH"
    TERMINAL_OPERATOR = "TO"


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vehicle(_Part):
    plate: Text
    nationality: Country
    vin: Annotated[str, StringConstraints(pattern=r"^[A-HJ-NPR-Z0-9]{17}$")] | None = None


class Trailer(_Part):
    plate: Text
    nationality: Country


class Driver(_Part):
    name: Text
    document_type: DocumentType = DocumentType.PASSPORT
    document_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9<]{1,20}$")]
    nationality: Nationality | None = None
    birth_date: dt.date | None = None

    @field_validator("birth_date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if value is not None and not (isinstance(value, str) and _ISO_DATE.match(value)):
            raise ValueError("expected a date as YYYY-MM-DD")
        return value

    @field_validator("birth_date")
    @classmethod
    def _born_in_the_past(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and value >= today():
            raise ValueError(f"{value} is not in the past")
        return value


class Party(_Part):
    name: Text
    id: Text | None = None
    country: Country | None = None


class Equipment(_Part):
    id: Annotated[str, AfterValidator(_container)]
    size_type: Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{4}$")] | None = None


class Seal(_Part):
    id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
        AfterValidator(_visible),
    ]  # fmt: skip
    type: SealType = SealType.MECHANICAL
    party: SealParty | None = None


class Goods(_Part):
    seq: Annotated[int, Field(ge=1, le=MAX_GOODS_ITEM, strict=True)]
    description: Text
    hs_code: Annotated[str, AfterValidator(_hs_code)]
    packages: Annotated[int, Field(ge=0, le=MAX_PACKAGES, strict=True)] | None = None
    package_type: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")] | None = None
    gross_mass_kg: Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]


class Manifest(_Part):
    """One pre-arrival record, exactly the fields of the contract."""

    ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=35)]
    version: Annotated[int, Field(ge=1, le=MAX_STORED_INT, strict=True)] = 1
    issuer: Annotated[str, AfterValidator(_issuer)]
    ucr: Text | None = None
    tir_carnet: Text | None = None
    cmr: Text | None = None
    procedure: Procedure
    office_departure: OfficeCode | None = None
    office_destination: OfficeCode | None = None
    office_border: OfficeCode
    expected_arrival: dt.datetime
    transport: Vehicle
    trailers: tuple[Trailer, ...] = ()
    driver: Driver | None = None
    carrier: Party | None = None
    consignor: Party | None = None
    consignee: Party | None = None
    equipment: tuple[Equipment, ...] = ()
    seals: tuple[Seal, ...] = ()
    goods: Annotated[tuple[Goods, ...], Field(min_length=1)]

    @field_validator("expected_arrival", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise ValueError("expected an ISO 8601 time in UTC, e.g. 2026-11-28T08:30:00Z")
        return parse_utc(value)

    @field_validator("goods")
    @classmethod
    def _unique_seq(cls, goods: tuple[Goods, ...]) -> tuple[Goods, ...]:
        seqs = [g.seq for g in goods]
        if len(seqs) != len(set(seqs)):
            raise ValueError("goods[].seq values must be unique")
        return goods

    def plates(self) -> list[tuple[str, str]]:
        """(role, plate as written) for the tractor and each trailer."""
        return [("transport", self.transport.plate)] + [("trailer", t.plate) for t in self.trailers]

    def to_json(self) -> str:
        """The record in contract form: the same field names, times in UTC with a Z."""
        return self.model_dump_json(exclude_none=True)


class ContractError(ValueError):
    """A record that breaks the contract, with one reason per bad field."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def field_path(loc: tuple[int | str, ...]) -> str:
    """`("seals", 2, "id")` as `seals[2].id`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _message(item: ErrorDetails) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return "not a field of the contract"
    if kind == "missing":
        return "required"
    if kind in ("string_too_short", "too_short") and item.get("ctx", {}).get("min_length") == 1:
        return "empty"
    return item["msg"].removeprefix("Value error, ")


def describe_validation_error(error: ValidationError) -> list[str]:
    """One `path: reason` per failing field, e.g. `seals[2].id: empty`."""
    items = error.errors(include_url=False)
    failing = {item["loc"] for item in items}
    reasons = []
    for item in items:
        loc = item["loc"]
        # An emptied list whose items all failed says nothing the item errors do not.
        if item["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in failing):
            continue
        reasons.append(f"{field_path(loc) or 'record'}: {_message(item)}")
    return reasons


def parse_manifest_json(raw: bytes | str, where: str = "record") -> Manifest:
    """Validate one JSON text as a manifest, or raise ContractError. The text is read by the
    boundaries' strict reader: a duplicate key (a second `ref` that would silently win), NaN
    or nesting beyond its limit is refused. `where` names the input in reader errors."""
    try:
        data = parse_json(raw, where)
    except JsonInputError as error:
        raise ContractError([str(error).removeprefix(f"{where}: ")]) from None
    return parse_manifest(data)


def parse_manifest(data: object) -> Manifest:
    """Validate one decoded JSON value as a manifest, or raise ContractError."""
    if not isinstance(data, dict):
        raise ContractError([f"record: expected a JSON object, got {type(data).__name__}"])
    try:
        return Manifest.model_validate(data)
    except ValidationError as error:
        raise ContractError(describe_validation_error(error)) from None
