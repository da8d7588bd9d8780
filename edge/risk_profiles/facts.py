"""What a profile looks at: a truck's record, the discrepancies found at the lane and its history
at this post, reduced once per truck to the keys the index looks up."""

from __future__ import annotations

import bisect
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from edge.discrepancies import DiscrepancyCode
from edge.manifest import Manifest, Party
from edge.plates import canonical_key
from edge.transliteration import NAME_TRANSLIT

_TO_LATIN = str.maketrans(NAME_TRANSLIT)
_NOT_ALNUM = re.compile(r"[\W_]+")


def normalise_name(name: str) -> str:
    """A party's name as profiles compare it: Latin letters, upper case, words single-spaced,
    punctuation dropped. "ТОО «Алатау-Транс»" and "TOO Alatau Trans" are the same."""
    text = unicodedata.normalize("NFKC", name).upper().translate(_TO_LATIN)
    return _NOT_ALNUM.sub(" ", text).strip()


@dataclass(frozen=True)
class TruckHistory:
    """The truck's earlier arrivals at this post (times, oldest first) and what they found."""

    arrivals: tuple[dt.datetime, ...] = ()
    red_before: bool = False
    finding_before: bool = False

    def arrivals_since(self, since: dt.datetime) -> int:
        return len(self.arrivals) - bisect.bisect_left(self.arrivals, since)


NO_HISTORY = TruckHistory()


@dataclass(frozen=True)
class PartyKeys:
    id: str | None
    name: str | None


def _party(party: Party | None) -> PartyKeys | None:
    if party is None:
        return None
    return PartyKeys(party.id, normalise_name(party.name))


@dataclass(frozen=True)
class TruckFacts:
    consignor: PartyKeys | None = None
    consignee: PartyKeys | None = None
    carrier: PartyKeys | None = None
    origin_country: str | None = None
    destination_country: str | None = None
    departure_office: str | None = None
    destination_office: str | None = None
    hs_codes: tuple[str, ...] = ()
    mass_kg: float | None = None
    discrepancies: frozenset[str] = frozenset()
    history: TruckHistory = field(default=NO_HISTORY)


def truck_key(record: Manifest | None, plate_read: str | None) -> str | None:
    """Whom the history is about: the record's tractor plate, else the plate read (folded to
    the canonical key, so a Cyrillic record and a Latin read are the same truck)."""
    plate = record.transport.plate if record is not None else plate_read
    return canonical_key(plate) or None if plate else None


def facts_of(
    record: Manifest | None,
    discrepancies: Iterable[DiscrepancyCode | str] = (),
    history: TruckHistory = NO_HISTORY,
) -> TruckFacts:
    codes = frozenset(str(c) for c in discrepancies)
    if record is None:
        return TruckFacts(discrepancies=codes, history=history)
    consignor, consignee = record.consignor, record.consignee
    departure, destination = record.office_departure, record.office_destination
    return TruckFacts(
        consignor=_party(consignor),
        consignee=_party(consignee),
        carrier=_party(record.carrier),
        origin_country=(consignor.country if consignor else None)
        or (departure[:2] if departure else None),
        destination_country=(consignee.country if consignee else None)
        or (destination[:2] if destination else None),
        departure_office=departure,
        destination_office=destination,
        hs_codes=tuple(dict.fromkeys(g.hs_code for g in record.goods)),
        mass_kg=sum(g.gross_mass_kg for g in record.goods),
        discrepancies=codes,
        history=history,
    )


def history_of(times: Sequence[dt.datetime], red: bool, finding: bool) -> TruckHistory:
    return TruckHistory(tuple(sorted(times)), red, finding)
