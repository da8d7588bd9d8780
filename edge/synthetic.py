"""A synthetic day at Nur Zholy, the Kazakh side of the Khorgos crossing with China: pre-arrival
records as the Kazakh CIS (`KZ-CIS`) would send them, what the lane camera makes of the plates,
and the trucks that then arrive, some of them not as their record says.

Everything is drawn from the `random.Random` given, so a seed gives the same day every time.
Customs office codes and company ids are illustrative; plate formats, passport number shapes,
HS codes, package types and container numbers are real ones.
"""

from __future__ import annotations

import datetime as dt
import random
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from edge.codes import iso6346_check_digit
from edge.config import MatchingConfig
from edge.discrepancies import DiscrepancyCode
from edge.manifest import Manifest, parse_manifest
from edge.matching import Observation, PlatePosition, PlateRead
from edge.plate_formats import (
    SEPARATORS,
    PlateKind,
    cyrillic_writing,
    formats_for,
    has_only_twin_letters,
    latin_writing,
)
from edge.plates import KEY_FOLDS, canonical_key

ISSUER = "KZ-CIS"
OFFICE_BORDER = "KZ051900"  # Nur Zholy
LOCAL_UTC_OFFSET = dt.timedelta(hours=5)  # Kazakhstan

# Share of the day's trucks by the plate's country; MN and AZ trucks are rare at Khorgos.
COUNTRY_SHARES = {
    "KZ": 34, "CN": 26, "KG": 10, "UZ": 10, "RU": 8, "TJ": 4, "MN": 4, "AZ": 4,
}  # fmt: skip

# nationality (MRZ), surnames, given names, passport number prefixes and digit count.
_DRIVERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], int]] = {
    "KZ": ("KAZ", ("NURLANOV", "ZHAKUPOV", "SMAGULOV", "TOKTAROV", "OMAROV", "IVANOV",
                   "ZHUMABAYEV", "KASYMOV"),
           ("ASKAR", "YERLAN", "DAULET", "SERIK", "BAUYRZHAN", "ARMAN", "DMITRIY", "KAIRAT"),
           ("N",), 8),
    "KG": ("KGZ", ("ASANOV", "TOKTOGULOV", "ABDYLDAEV", "MAMATOV", "SADYROV", "BEISHENOV"),
           ("BAKYT", "NURBEK", "AZAMAT", "ULAN", "ERMEK", "TALANT", "MIRLAN"), ("AC",), 7),
    "UZ": ("UZB", ("KARIMOV", "YUSUPOV", "RAKHIMOV", "TOSHMATOV", "ERGASHEV", "ABDULLAEV"),
           ("RUSTAM", "BOBUR", "SHERZOD", "JAMSHID", "DILSHOD", "OTABEK", "ULUGBEK"),
           ("AA", "AB", "AC", "AD", "FA"), 7),
    "TJ": ("TJK", ("RAHIMOV", "SAIDOV", "NAZAROV", "KURBONOV", "SHARIPOV", "DAVLATOV"),
           ("FIRDAVS", "SHUHRAT", "BAHROM", "FARRUKH", "JAMSHED", "DILOVAR"), ("40",), 7),
    "MN": ("MNG", ("BATBAYAR", "GANBOLD", "ERDENEBAT", "TSERENDORJ", "MUNKHBAT"),
           ("BOLD", "GANZORIG", "ENKHBAYAR", "TUMURBAATAR", "BATTULGA"), ("E",), 7),
    "CN": ("CHN", ("WANG", "LI", "ZHANG", "LIU", "MA", "MAIMAITI", "AISHAN"),
           ("JIANGUO", "WEI", "QIANG", "JUN", "YONG", "ABULA", "TUERXUN"), ("E",), 8),
    "AZ": ("AZE", ("MAMMADOV", "ALIYEV", "HASANOV", "HUSEYNOV", "GULIYEV"),
           ("ELVIN", "RASHAD", "ORKHAN", "VUGAR", "ELCHIN", "TURAL"), ("C",), 8),
    "RU": ("RUS", ("IVANOV", "SMIRNOV", "KUZNETSOV", "POPOV", "SOKOLOV", "MIKHAILOV"),
           ("SERGEI", "ALEKSANDR", "DMITRII", "ANDREI", "NIKOLAI", "IGOR"), ("75", "76"), 7),
}  # fmt: skip

_CARRIERS = {
    "KZ": (("Almaty Trans LLP", "990140000123"), ("Khorgos Logistics LLP", "150840012345")),
    "CN": (("Xinjiang Tianshan Transport Co., Ltd.", "91650100MA77U8KX3B"),
           ("Horgos Jinlu International Freight Co., Ltd.", "91654004MA78H2PL5Q")),
    "KG": (("Bishkek Auto Trans LLC", "01206201510123"),),
    "UZ": (("Tashkent Trans Logistic LLC", "305123456"),),
    "TJ": (("Dushanbe Cargo LLC", "010012345"),),
    "MN": (("Ulaanbaatar Freight LLC", "5123456"),),
    "AZ": (("Baku Intermodal LLC", "1401234561"),),
    "RU": (("Sibirskie Perevozki LLC", "5401234567"),),
}  # fmt: skip

_CONSIGNORS_CN = (
    ("Yiwu Silkroad Import & Export Co., Ltd.", "91330782MA2EC1XY7K"),
    ("Guangzhou Huaxin Electronics Co., Ltd.", "91440101MA5AL0QW2M"),
    ("Urumqi Tianyuan Trading Co., Ltd.", "91650102MA7756ZT9R"),
)
_CONSIGNEES = {
    "KZ": ("Almaty Electronics LLP", "120940011111"), "KG": ("Dordoi Trade LLC", "02304201210045"),
    "UZ": ("Chorsu Savdo LLC", "307654321"), "TJ": ("Korvon Trade LLC", "020054321"),
    "RU": ("Sibtorg LLC", "5406123456"), "AZ": ("Caspian Retail LLC", "1700654321"),
    "CN": ("Xinjiang Grain Import Co., Ltd.", "91650100MA78GR1N4D"),
}  # fmt: skip

# Inland offices: departure for exports and destination for imports and transit.
_OFFICES = {
    "KZ": ("KZ051100", "KZ011100", "KZ171100", "KZ091100"),
    "CN": ("CN7901", "CN7908"), "KG": ("KG417000",), "UZ": ("UZ26001",),
    "TJ": ("TJ1010",), "RU": ("RU10609000",), "AZ": ("AZ1000",),
}  # fmt: skip

# description, HS code, UN/ECE package type, kg per package (low, high)
_IMPORTS = (
    ("Smartphones", "851713", "CT", (8, 15)),
    ("Portable computers", "847130", "CT", (6, 12)),
    ("Television receivers", "852872", "CT", (12, 30)),
    ("Air conditioners, split system", "841510", "CT", (30, 60)),
    ("Parts and accessories of motor vehicles", "870899", "PK", (20, 200)),
    ("New pneumatic tyres for lorries", "401120", "NE", (40, 70)),
    ("Ceramic tiles", "690721", "PX", (900, 1300)),
    ("Footwear with rubber soles", "640299", "CT", (8, 15)),
    ("Cotton T-shirts", "610910", "CT", (10, 20)),
    ("Wooden furniture", "940360", "PK", (20, 80)),
    ("Articles of plastics", "392690", "CT", (5, 20)),
    ("Static converters", "850440", "CT", (5, 25)),
    ("Black tea in bulk", "090240", "CT", (10, 25)),
    ("Hot-rolled steel sheet in coils", "720839", "CL", (5000, 12000)),
)
_EXPORTS = (
    ("Wheat", "100199", "BG", (40, 50)),
    ("Sunflower seeds", "120600", "BG", (40, 50)),
    ("Copper cathodes", "740311", "PX", (900, 2600)),
    ("Sunflower oil, refined", "151219", "CT", (10, 20)),
)
_CONTAINER_OWNERS = ("MSKU", "CSNU", "CBHU", "TGHU", "TEMU", "OOLU", "CAIU", "TRHU")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _pick_country(rng: random.Random) -> str:
    countries = list(COUNTRY_SHARES)
    return rng.choices(countries, weights=[COUNTRY_SHARES[c] for c in countries])[0]


def _written(rng: random.Random, plate: str, country: str) -> str:
    """The plate as a clerk typed it into the record."""
    if country == "RU":
        plate = cyrillic_writing(plate) if rng.random() < 0.75 else latin_writing(plate)
    elif country in ("KZ", "KG") and has_only_twin_letters(plate) and rng.random() < 0.6:
        plate = cyrillic_writing(plate)
    if rng.random() < 0.15:
        plate = "".join(ch for ch in plate if ch not in SEPARATORS)
    return plate


def _new_plate(rng: random.Random, country: str, kind: PlateKind, seen: set[str]) -> str:
    # Where a country's trailer series is not modelled, trailers carry vehicle-format plates.
    formats = formats_for(country, kind) or formats_for(country, "vehicle")
    while True:
        plate = rng.choice(formats).random_plate(rng)
        if canonical_key(plate) not in seen:
            seen.add(canonical_key(plate))
            return _written(rng, plate, country)


def passport_number(rng: random.Random, country: str) -> str:
    _, _, _, prefixes, digits = _DRIVERS[country]
    return rng.choice(prefixes) + _digits(rng, digits)


def _driver(rng: random.Random, country: str, day: dt.date) -> dict[str, Any]:
    nationality, surnames, given, _, _ = _DRIVERS[country]
    born = day - dt.timedelta(days=rng.randint(23 * 365, 62 * 365))
    return {
        "name": f"{rng.choice(surnames)} {rng.choice(given)}",
        "document_type": "P",
        "document_number": passport_number(rng, country),
        "nationality": nationality,
        "birth_date": born.isoformat(),
    }


def container_number(rng: random.Random) -> str:
    first_ten = rng.choice(_CONTAINER_OWNERS) + _digits(rng, 6)
    return f"{first_ten}{iso6346_check_digit(first_ten)}"


def _goods(rng: random.Random, catalogue: Sequence[tuple[str, str, str, tuple[int, int]]]) -> Any:
    lines = rng.choice((1, 1, 1, 2, 2, 3))
    goods = []
    for seq, (description, hs_code, package_type, (low, high)) in enumerate(
        rng.sample(list(catalogue), k=lines), start=1
    ):
        per_package = rng.uniform(low, high)
        packages = max(1, round(rng.uniform(4000, 20000) / lines / per_package))
        goods.append({
            "seq": seq, "description": description, "hs_code": hs_code,
            "packages": packages, "package_type": package_type,
            "gross_mass_kg": round(packages * per_package, 1),
        })  # fmt: skip
    return goods


def _seals(rng: random.Random, origin: str, containers: list[str]) -> list[dict[str, str]]:
    seals = [{"id": f"{origin}C{_digits(rng, 7)}", "type": "mechanical", "party": "CU"}]
    if rng.random() < 0.45:
        seals.append({"id": f"ENP{_digits(rng, 9)}", "type": "electronic", "party": "CU"})
    for container in containers:
        seals.append(
            {"id": f"{container[:3]}{_digits(rng, 7)}", "type": "mechanical", "party": "SH"}
        )
    if not containers and rng.random() < 0.25:
        seals.append({"id": f"CA{_digits(rng, 8)}", "type": "mechanical", "party": "CA"})
    return seals


def _expected_arrival(rng: random.Random, day: dt.date) -> dt.datetime:
    """Local time at the crossing, busiest around midday, in UTC."""
    if rng.random() < 0.15:
        minute = rng.uniform(0, 1439)
    else:
        minute = min(1439.0, max(0.0, rng.gauss(13 * 60, 3.5 * 60)))
    local = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=round(minute))
    return (local - LOCAL_UTC_OFFSET).replace(tzinfo=dt.UTC)


def _ref(day: dt.date, serial: int) -> str:
    """An NCTS-style MRN: year, country, a serial and an ISO 6346-method check digit."""
    body = f"{day:%y}KZ0519{day.timetuple().tm_yday:03d}{serial:06d}"
    return body + str(iso6346_check_digit(body))


def _route(rng: random.Random, country: str) -> tuple[str, str, str]:
    """(procedure, departure office, destination office) for a truck of `country`."""
    if country == "KZ" and rng.random() < 0.3:
        return "export", rng.choice(_OFFICES["KZ"]), rng.choice(_OFFICES["CN"])
    if country in ("KZ", "MN") or (country == "CN" and rng.random() < 0.6):
        return "import", rng.choice(_OFFICES["CN"]), rng.choice(_OFFICES["KZ"])
    # Chinese trucks in transit go on to Central Asia or Russia; the others go home.
    destination = rng.choice(("KG", "UZ", "TJ", "RU")) if country == "CN" else country
    return "transit", rng.choice(_OFFICES["CN"]), rng.choice(_OFFICES[destination])


def new_record(rng: random.Random, day: dt.date, serial: int, seen: set[str]) -> Manifest:
    """One valid pre-arrival record; its plates are new to `seen`, which it extends."""
    country = _pick_country(rng)
    procedure, departure, destination = _route(rng, country)
    origin = "KZ" if procedure == "export" else "CN"
    trailers = []
    if rng.random() < 0.85:
        trailers.append(
            {"plate": _new_plate(rng, country, "trailer", seen), "nationality": country}
        )
    containers: list[str] = []
    if trailers and rng.random() < 0.3:
        containers = [container_number(rng) for _ in range(rng.choice((1, 1, 2)))]
    consignee_country = "CN" if procedure == "export" else destination[:2]
    carrier = rng.choice(_CARRIERS[country])
    consignee = _CONSIGNEES[consignee_country]
    record: dict[str, Any] = {
        "ref": _ref(day, serial),
        "issuer": ISSUER,
        "procedure": procedure,
        "cmr": f"{country}-{day.year}-{rng.randint(1, 999999):06d}",
        "office_departure": departure,
        "office_destination": destination,
        "office_border": OFFICE_BORDER,
        "expected_arrival": f"{_expected_arrival(rng, day):%Y-%m-%dT%H:%M:%SZ}",
        "transport": {"plate": _new_plate(rng, country, "vehicle", seen), "nationality": country},
        "trailers": trailers,
        "carrier": {"name": carrier[0], "id": carrier[1], "country": country},
        "consignee": {"name": consignee[0], "id": consignee[1], "country": consignee_country},
        "equipment": [
            {"id": c, "size_type": "45G1" if len(containers) == 1 else "22G1"} for c in containers
        ],
        "goods": _goods(rng, _EXPORTS if procedure == "export" else _IMPORTS),
    }
    if procedure != "export":
        name, id_ = rng.choice(_CONSIGNORS_CN)
        record["consignor"] = {"name": name, "id": id_, "country": "CN"}
    if procedure == "transit" and country not in ("KZ", "KG", "RU"):
        record["tir_carnet"] = f"XA{_digits(rng, 8)}"
    if rng.random() < 0.95:
        record["driver"] = _driver(rng, country, day)
    if rng.random() < 0.92:
        record["seals"] = _seals(rng, origin, containers)
    return parse_manifest(record)


def generate_day(rng: random.Random, day: dt.date, trucks: int) -> list[Manifest]:
    """`trucks` valid pre-arrival records expected at the crossing on `day`, by arrival time."""
    seen: set[str] = set()
    records = [new_record(rng, day, serial, seen) for serial in range(1, trucks + 1)]
    return sorted(records, key=lambda r: r.expected_arrival)


# -- what the camera reads ------------------------------------------------------------------

_PEERS = {ch: group.replace(ch, "") for group in KEY_FOLDS for ch in group}
_ASCII_ALNUM = string.ascii_uppercase + string.digits


def ocr_noise(
    rng: random.Random,
    plate: str,
    *,
    confusion_rate: float = 0.05,
    edit_rate: float = 0.08,
    separator_keep_rate: float = 0.15,
    max_edits: int = 1,
) -> str:
    """What a Latin-reading plate camera might make of `plate` as written.

    Cyrillic look-alikes come out Latin; each character may turn into an OCR confusion of
    itself (0/O/D/Q, 1/I/7, 2/Z, 5/S, 8/B, 6/G); separators are mostly lost; a Chinese
    province character is often missed; up to `max_edits` times a character is dropped or
    one added, each with `edit_rate`. Other Cyrillic letters (Mongolian Ө) are read as they are.
    """
    text = latin_writing(unicodedata.normalize("NFC", plate).upper())
    keep_separators = rng.random() < separator_keep_rate
    out: list[str] = []
    for ch in text:
        if ch in SEPARATORS or ch.isspace():
            if keep_separators:
                out.append(ch)
        elif unicodedata.category(ch) == "Lo":  # a Chinese character: often missed
            if rng.random() < 0.5:
                out.append(ch)
        elif ch in _PEERS and rng.random() < confusion_rate:
            out.append(rng.choice(_PEERS[ch]))
        else:
            out.append(ch)
    for _ in range(max_edits):
        if rng.random() < edit_rate:
            out = _edit(rng, out)
    return "".join(out).strip()


def _edit(rng: random.Random, chars: list[str]) -> list[str]:
    """One character dropped or added, among A-Z and 0-9 only."""
    positions = [i for i, ch in enumerate(chars) if ch in _ASCII_ALNUM]
    if positions and rng.random() < 0.6:
        drop = rng.choice(positions)
        return chars[:drop] + chars[drop + 1 :]
    at = rng.randint(0, len(chars))
    return [*chars[:at], rng.choice(_ASCII_ALNUM), *chars[at:]]


def misread(rng: random.Random, plate: str) -> str:
    """A camera read of `plate` that is surely not the same plate: one character confused."""
    chars = list(ocr_noise(rng, plate, confusion_rate=0.0, edit_rate=0.0))
    positions = [i for i, ch in enumerate(chars) if ch in _ASCII_ALNUM]
    at = rng.choice(positions)
    chars[at] = rng.choice(_PEERS.get(chars[at]) or _ASCII_ALNUM.replace(chars[at], ""))
    return "".join(chars)


# -- the trucks that arrive -----------------------------------------------------------------


class Scenario(StrEnum):
    """What a truck does at the lane, and so what the matcher should say about it."""

    CLEAN = "clean"  # as its record says; the camera reads with its usual noise
    MISREAD = "misread"  # every camera read of its plate is off by a character
    NO_PRE_ARRIVAL = "no_pre_arrival"  # no record was sent for it
    OTHER_TRAILER = "other_trailer"  # pulls a trailer its record does not list
    SEAL_MISSING = "seal_missing"  # a seal of its record is gone
    SEAL_REPLACED = "seal_replaced"  # a seal of its record was swapped for another
    OTHER_DRIVER = "other_driver"  # driven by someone else than its record names
    OUTSIDE_WINDOW = "outside_window"  # far earlier or later than its record expects
    OTHER_DOCUMENT = "other_document"  # the transit document shown is another truck's


EXPECTED_CODES: dict[Scenario, frozenset[DiscrepancyCode]] = {
    Scenario.CLEAN: frozenset(),
    Scenario.MISREAD: frozenset({DiscrepancyCode.PLATE_APPROXIMATE}),
    Scenario.NO_PRE_ARRIVAL: frozenset({DiscrepancyCode.NO_PRE_ARRIVAL}),
    Scenario.OTHER_TRAILER: frozenset({DiscrepancyCode.TRAILER_MISMATCH}),
    Scenario.SEAL_MISSING: frozenset({DiscrepancyCode.SEAL_MISSING}),
    Scenario.SEAL_REPLACED: frozenset(
        {DiscrepancyCode.SEAL_MISSING, DiscrepancyCode.SEAL_UNEXPECTED}
    ),
    Scenario.OTHER_DRIVER: frozenset({DiscrepancyCode.DRIVER_DOCUMENT_MISMATCH}),
    Scenario.OUTSIDE_WINDOW: frozenset({DiscrepancyCode.OUTSIDE_ARRIVAL_WINDOW}),
    Scenario.OTHER_DOCUMENT: frozenset({DiscrepancyCode.TRANSIT_DOCUMENT_MISMATCH}),
}


@dataclass(frozen=True)
class Arrival:
    """One truck at the lane: what the lane observes, and the truth behind it."""

    observation: Observation
    scenario: Scenario
    record: Manifest  # the truck's own record (for NO_PRE_ARRIVAL, one that was never sent)

    @property
    def ref(self) -> str | None:
        """The ref of the record the truck belongs to, None when it has none."""
        return None if self.scenario is Scenario.NO_PRE_ARRIVAL else self.record.ref

    @property
    def expected(self) -> frozenset[DiscrepancyCode]:
        """The codes the matcher should name for this truck (on its record, or the result)."""
        return EXPECTED_CODES[self.scenario]


def _applies(scenario: Scenario, record: Manifest) -> bool:
    if scenario is Scenario.SEAL_MISSING:  # with one seal gone, some are still read
        return len(record.seals) >= 2
    if scenario is Scenario.SEAL_REPLACED:
        return bool(record.seals)
    return True


def _reads(
    rng: random.Random, plate: str, position: PlatePosition, count: int, misread_all: bool
) -> list[PlateRead]:
    """The camera's candidates for one plate, best first: a noisy read, then variants of it
    with one uncertain character swapped for a look-alike, at falling confidences."""
    top = ocr_noise(rng, plate)
    if misread_all and canonical_key(top) == canonical_key(plate):
        top = misread(rng, plate)
    confidence = rng.uniform(0.75, 0.97)
    reads = [PlateRead(top, round(confidence, 2), position)]
    for _ in range(count - 1):
        confidence *= rng.uniform(0.4, 0.8)
        variant = _swap_one(rng, top)
        if variant not in {r.text for r in reads}:
            if misread_all and canonical_key(variant) == canonical_key(plate):
                continue
            reads.append(PlateRead(variant, round(confidence, 2), position))
    return reads


def _swap_one(rng: random.Random, text: str) -> str:
    positions = [i for i, ch in enumerate(text) if ch in _PEERS]
    if not positions:
        return text
    at = rng.choice(positions)
    return text[:at] + rng.choice(_PEERS[text[at]]) + text[at + 1 :]


def _observe(
    rng: random.Random,
    record: Manifest,
    scenario: Scenario,
    at: dt.datetime,
    seen: set[str],
) -> Observation:
    misread_all = scenario is Scenario.MISREAD
    reads = _reads(rng, record.transport.plate, "tractor", rng.choice((1, 2, 3)), misread_all)
    trailer = record.trailers[0].plate if record.trailers else None
    if scenario is Scenario.OTHER_TRAILER:
        trailer = _new_plate(rng, record.transport.nationality, "trailer", seen)
    if trailer and not misread_all:
        reads += _reads(rng, trailer, "trailer", rng.choice((1, 2)), False)
    read_seals = [s.id for s in record.seals]
    rng.shuffle(read_seals)
    seals: tuple[str, ...] | None = None  # None: not scanned yet
    if scenario is Scenario.SEAL_MISSING:
        seals = tuple(read_seals[:-1])
    elif scenario is Scenario.SEAL_REPLACED:
        seals = (*read_seals[:-1], f"KZC{_digits(rng, 7)}")
    elif rng.random() >= 0.1:
        seals = tuple(read_seals)
    document = record.driver.document_number if record.driver else None
    if scenario is Scenario.OTHER_DRIVER:
        document = passport_number(rng, record.transport.nationality)
    elif rng.random() < 0.1:
        document = None  # not scanned yet
    references: tuple[str, ...] = ()
    if scenario is Scenario.OTHER_DOCUMENT:
        references = (f"XA{_digits(rng, 8)}",)
    elif rng.random() < 0.7:  # the transit document's barcode: its TIR carnet, else the ref
        references = (record.tir_carnet or record.ref,)
    return Observation(tuple(reads), seals, document, references, at=at)


def _arrival_time(
    rng: random.Random, record: Manifest, scenario: Scenario, window: MatchingConfig
) -> dt.datetime:
    if scenario is Scenario.OUTSIDE_WINDOW:
        if rng.random() < 0.5:
            hours = -rng.uniform(window.early_hours + 1, window.early_hours + 8)
        else:
            hours = rng.uniform(window.late_hours + 1, window.late_hours + 12)
    else:
        hours = min(6.0, max(-3.0, rng.gauss(0.3, 1.2)))
    return record.expected_arrival + dt.timedelta(hours=hours)


def arrivals(
    rng: random.Random,
    records: Sequence[Manifest],
    *,
    fault_rate: float = 0.1,
    unknown_rate: float = 0.03,
    window: MatchingConfig | None = None,
) -> list[Arrival]:
    """The trucks of `records` arriving, in order of arrival, plus trucks that have no record.

    A share `fault_rate` of the trucks differ from their record (a seal, trailer, driver or
    time) or are misread; `unknown_rate` (relative to the records) come with no record. Given
    one record with seals per scenario, every scenario, and so every discrepancy code, occurs
    at least once. `window` is the matcher's arrival window (default: the config default).
    """
    window = window or MatchingConfig()
    faults: list[Scenario] = [
        s for s in Scenario if s not in (Scenario.CLEAN, Scenario.NO_PRE_ARRIVAL)
    ]
    order = list(range(len(records)))
    rng.shuffle(order)
    scenarios: dict[int, Scenario] = {}
    for scenario in faults:  # each at least once, on a record it applies to
        fits = [i for i in order if i not in scenarios and _applies(scenario, records[i])]
        if fits:
            scenarios[fits[0]] = scenario
    for i in order:
        if i not in scenarios:
            pick = rng.choice(faults) if rng.random() < fault_rate else Scenario.CLEAN
            scenarios[i] = pick if _applies(pick, records[i]) else Scenario.CLEAN
    seen = {canonical_key(plate) for r in records for _, plate in r.plates()}
    local_days = sorted((r.expected_arrival + LOCAL_UTC_OFFSET).date() for r in records)
    day = local_days[len(local_days) // 2] if local_days else dt.date(2026, 1, 1)
    cases: list[tuple[Manifest, Scenario]] = [(records[i], scenarios[i]) for i in sorted(scenarios)]
    unknown = max(1, round(unknown_rate * len(records)))
    for serial in range(len(records) + 1, len(records) + 1 + unknown):
        cases.append((new_record(rng, day, serial, seen), Scenario.NO_PRE_ARRIVAL))
    out = []
    for record, scenario in cases:
        at = _arrival_time(rng, record, scenario, window)
        out.append(Arrival(_observe(rng, record, scenario, at, seen), scenario, record))
    return sorted(out, key=lambda a: a.observation.at or a.record.expected_arrival)
