"""Matching an arriving truck to its pre-arrival records.

Candidates come from the plate index (every retrieval key one edit from each read) and from the
seals and driver document read. Each is scored on how well its plates fit the reads (OCR
confusions cost little, other edits more), how near its expected arrival is, and how its seals
and driver document agree; every difference is named as a discrepancy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz.distance import Levenshtein

from edge.config import MatchingConfig
from edge.discrepancies import Discrepancy, DiscrepancyCode
from edge.manifest import Manifest
from edge.manifest_cache import ManifestCache, StoredManifest, normalise_id
from edge.plates import canonical_key, retrieval_key, retrieval_neighbours, written_key
from edge.timeutil import utcnow

PlatePosition = Literal["tractor", "trailer"]

# An edit that the OCR confusion table explains costs this much of a full edit.
CONFUSION_COST = 0.25
# How much of a plate's similarity one full edit takes away.
EDIT_PENALTY = 0.25
# A read this similar to a trailer's plate (two edits, or one and some confusions) is that trailer.
TRAILER_THRESHOLD = 0.5
# The weights of the score's parts; a part with nothing observed is left out, the rest scaled.
WEIGHT_PLATE, WEIGHT_TIME, WEIGHT_CHECKS = 0.6, 0.1, 0.3
# Two candidates closer than this are ambiguous: the officer must choose.
AMBIGUITY_MARGIN = 0.05


@dataclass(frozen=True)
class PlateRead:
    text: str
    confidence: float = 1.0
    position: PlatePosition | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} is not between 0 and 1")


@dataclass(frozen=True)
class Observation:
    """What the lane knows about the truck in front of it."""

    plates: tuple[PlateRead, ...] = ()
    seals: tuple[str, ...] | None = None  # None: not checked yet; (): checked, none found
    document: str | None = None
    references: tuple[str, ...] = ()  # transit documents scanned: MRN/ref, TIR carnet, CMR
    at: dt.datetime | None = None


@dataclass(frozen=True)
class Candidate:
    manifest_id: int
    ref: str
    issuer: str
    score: float
    plate: str | None  # the record's plate, as written, that the reads fit best
    read: str | None  # the read that fitted it
    discrepancies: tuple[Discrepancy, ...]
    record: Manifest

    def to_dict(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "issuer": self.issuer,
            "score": round(self.score, 4),
            "plate": self.plate,
            "read": self.read,
            "expected_arrival": self.record.expected_arrival.isoformat().replace("+00:00", "Z"),
            "discrepancies": [d.to_dict() for d in self.discrepancies],
        }


@dataclass(frozen=True)
class MatchResult:
    candidates: list[Candidate]
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def ambiguous(self) -> bool:
        c = self.candidates
        return len(c) > 1 and c[0].score - c[1].score < AMBIGUITY_MARGIN

    def to_dict(self) -> dict[str, object]:
        return {
            "candidates": [c.to_dict() for c in self.candidates],
            "ambiguous": self.ambiguous,
            "discrepancies": [d.to_dict() for d in self.discrepancies],
        }


def plate_similarity(read: str, plate: str) -> float:
    """1.0 for the same plate in any script; less for each edit, little for OCR confusions."""
    read_key, plate_key = canonical_key(read), canonical_key(plate)
    if read_key == plate_key:
        # Same key, but a letter that only looks alike after transliteration (Б read as B).
        same_letters = written_key(read) == written_key(plate)
        return 1.0 if same_letters else 1.0 - EDIT_PENALTY * CONFUSION_COST
    folded = Levenshtein.distance(retrieval_key(read), retrieval_key(plate))
    raw = Levenshtein.distance(read_key, plate_key)
    edits = folded + CONFUSION_COST * max(0, raw - folded)
    return max(0.0, 1.0 - EDIT_PENALTY * edits)


@dataclass(frozen=True)
class _PlateFit:
    score: float
    plate: str | None
    read: str | None


class Matcher:
    def __init__(self, cache: ManifestCache, settings: MatchingConfig | None = None) -> None:
        self.cache = cache
        self.settings = settings or MatchingConfig()

    def match(self, observation: Observation) -> MatchResult:
        now = observation.at or utcnow()
        ids = self._retrieve(observation)
        scored = [self._score(stored, observation, now) for stored in self.cache.get(ids)]
        scored = [c for c in scored if c.score >= self.settings.min_score]
        scored.sort(
            key=lambda c: (-c.score, abs((c.record.expected_arrival - now).total_seconds()))
        )
        candidates = scored[: self.settings.max_candidates]
        if candidates:
            return MatchResult(candidates)
        observed = ", ".join(r.text for r in observation.plates) or None
        return MatchResult(
            [],
            [
                Discrepancy(
                    DiscrepancyCode.NO_PRE_ARRIVAL,
                    "no pre-arrival record fits this truck",
                    observed=observed,
                )
            ],
        )

    def _retrieve(self, observation: Observation) -> set[int]:
        index = self.cache.plate_index()
        ids: set[int] = set()
        for read in observation.plates:
            key = retrieval_key(read.text)
            if key:
                ids |= index.lookup(retrieval_neighbours(key))
        if observation.seals:
            ids |= self.cache.ids_by_seal(observation.seals)
        if observation.document:
            ids |= self.cache.ids_by_document(observation.document)
        if observation.references:
            ids |= self.cache.ids_by_reference(observation.references)
        return ids

    def _score(self, stored: StoredManifest, obs: Observation, now: dt.datetime) -> Candidate:
        record = stored.record
        discrepancies: list[Discrepancy] = []
        tractor = self._fit(obs.plates, [record.transport.plate], exclude="trailer")
        trailer = self._fit(obs.plates, [t.plate for t in record.trailers], exclude="tractor")
        plate_score = 1.0 - (1.0 - tractor.score) * (1.0 - trailer.score)
        best = tractor if tractor.score >= trailer.score else trailer
        if (
            best.plate is not None
            and best.read is not None
            and written_key(best.read) != written_key(best.plate)
        ):
            discrepancies.append(
                Discrepancy(
                    DiscrepancyCode.PLATE_APPROXIMATE,
                    f"plate read as {best.read}, the record has {best.plate}",
                    expected=best.plate,
                    observed=best.read,
                )
            )
        discrepancies += self._trailer_discrepancies(obs.plates, record)
        time_score = self._time_score(record, now, discrepancies)
        checks = self._check_scores(record, obs, discrepancies)
        # What was not observed does not count: no plate read (a camera that only saw a truck)
        # or no seal or document checked yet; the parts that were observed are scaled up.
        parts = [(WEIGHT_TIME, time_score)]
        if obs.plates:
            parts.append((WEIGHT_PLATE, plate_score))
        if checks:
            parts.append((WEIGHT_CHECKS, sum(checks) / len(checks)))
        score = sum(w * v for w, v in parts) / sum(w for w, _ in parts)
        return Candidate(
            manifest_id=stored.id,
            ref=record.ref,
            issuer=record.issuer,
            score=score,
            plate=best.plate,
            read=best.read,
            discrepancies=tuple(discrepancies),
            record=record,
        )

    @staticmethod
    def _fit(reads: Iterable[PlateRead], plates: list[str], exclude: PlatePosition) -> _PlateFit:
        best = _PlateFit(0.0, None, None)
        for read in reads:
            if read.position == exclude:
                continue
            for plate in plates:
                score = read.confidence * plate_similarity(read.text, plate)
                if score > best.score:
                    best = _PlateFit(score, plate, read.text)
        return best

    @staticmethod
    def _trailer_discrepancies(reads: Iterable[PlateRead], record: Manifest) -> list[Discrepancy]:
        # The trailer reads are one camera's candidates for one plate: the best of them counts.
        trailer_reads = sorted(
            (r for r in reads if r.position == "trailer"), key=lambda r: -r.confidence
        )
        if not trailer_reads:
            return []
        expected = [t.plate for t in record.trailers]
        if any(
            plate_similarity(read.text, plate) >= TRAILER_THRESHOLD
            for read in trailer_reads
            for plate in expected
        ):
            return []
        read = trailer_reads[0].text
        return [
            Discrepancy(
                DiscrepancyCode.TRAILER_MISMATCH,
                f"trailer {read} is not on the record"
                + (f" (it lists {', '.join(expected)})" if expected else " (it has none)"),
                expected=", ".join(expected) or None,
                observed=read,
            )
        ]

    def _time_score(
        self, record: Manifest, now: dt.datetime, discrepancies: list[Discrepancy]
    ) -> float:
        hours = (now - record.expected_arrival).total_seconds() / 3600
        limit = self.settings.late_hours if hours >= 0 else self.settings.early_hours
        if abs(hours) > limit:
            word = "late" if hours >= 0 else "early"
            discrepancies.append(
                Discrepancy(
                    DiscrepancyCode.OUTSIDE_ARRIVAL_WINDOW,
                    f"{abs(hours):.1f} h {word}; the window is {self.settings.early_hours:g} h "
                    f"early to {self.settings.late_hours:g} h late",
                    expected=record.expected_arrival.isoformat().replace("+00:00", "Z"),
                    observed=now.isoformat().replace("+00:00", "Z"),
                )
            )
            return 0.0
        return 1.0 - 0.5 * abs(hours) / limit if limit else 1.0

    @staticmethod
    def _check_scores(
        record: Manifest, obs: Observation, discrepancies: list[Discrepancy]
    ) -> list[float]:
        scores: list[float] = []
        if obs.seals is not None:
            expected = {normalise_id(s.id): s.id for s in record.seals}
            read = {normalise_id(s): s for s in obs.seals}
            for key in sorted(expected.keys() - read.keys()):
                discrepancies.append(
                    Discrepancy(
                        DiscrepancyCode.SEAL_MISSING,
                        f"seal {expected[key]} of the record was not read",
                        expected=expected[key],
                    )
                )
            for key in sorted(read.keys() - expected.keys()):
                discrepancies.append(
                    Discrepancy(
                        DiscrepancyCode.SEAL_UNEXPECTED,
                        f"seal {read[key]} is not on the record",
                        observed=read[key],
                    )
                )
            both = expected.keys() | read.keys()
            scores.append(len(expected.keys() & read.keys()) / len(both) if both else 1.0)
        if obs.document:
            on_record = record.driver.document_number if record.driver else None
            if on_record is not None and normalise_id(on_record) == normalise_id(obs.document):
                scores.append(1.0)
            else:
                discrepancies.append(
                    Discrepancy(
                        DiscrepancyCode.DRIVER_DOCUMENT_MISMATCH,
                        f"driver's document {obs.document} is not the record's "
                        + (on_record or "(the record names no driver)"),
                        expected=on_record,
                        observed=obs.document,
                    )
                )
                scores.append(0.0)
        if obs.references:
            own = {normalise_id(n) for n in (record.ref, record.tir_carnet, record.cmr) if n}
            for reference in obs.references:
                if normalise_id(reference) in own:
                    scores.append(1.0)
                    continue
                discrepancies.append(
                    Discrepancy(
                        DiscrepancyCode.TRANSIT_DOCUMENT_MISMATCH,
                        f"transit document {reference} is not the record's "
                        f"(ref {record.ref}"
                        + (f", TIR {record.tir_carnet}" if record.tir_carnet else "")
                        + (f", CMR {record.cmr}" if record.cmr else "")
                        + ")",
                        expected=record.ref,
                        observed=reference,
                    )
                )
                scores.append(0.0)
        return scores
