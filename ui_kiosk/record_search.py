"""Finding pre-arrival records by hand: by plate, reference, seal or driver's document.

For when nothing matched. References (ref, TIR carnet, CMR), seals and documents must match
exactly (without case, spaces or dashes); plates are looked up like the matcher does, one OCR
slip or edit away, and ranked by how well they fit. Call it where the cache is used (the store
thread): the plate index lives in memory.
"""

from __future__ import annotations

from typing import Literal

from edge.manifest import Manifest
from edge.manifest_cache import ManifestCache, StoredManifest
from edge.matching import plate_similarity
from edge.plates import retrieval_key, retrieval_neighbours
from ui_kiosk.models import PlateView, SearchHit
from ui_kiosk.translit import plate_latin

MAX_QUERY_CHARS = 64
MIN_PLATE_KEY = 3  # shorter plate keys match too much to be worth showing
MatchedOn = Literal["plate", "reference", "seal", "document"]


def search_records(cache: ManifestCache, query: str, limit: int = 20) -> list[SearchHit]:
    text = " ".join(query.split())
    if not text or len(text) > MAX_QUERY_CHARS:
        return []
    found: dict[int, MatchedOn] = {}
    for manifest_id in sorted(cache.ids_by_ref(text) | cache.ids_by_reference([text])):
        found.setdefault(manifest_id, "reference")
    for manifest_id in sorted(cache.ids_by_seal([text])):
        found.setdefault(manifest_id, "seal")
    for manifest_id in sorted(cache.ids_by_document(text)):
        found.setdefault(manifest_id, "document")
    key = retrieval_key(text)
    if len(key) >= MIN_PLATE_KEY:
        for manifest_id in sorted(cache.plate_index().lookup(retrieval_neighbours(key))):
            found.setdefault(manifest_id, "plate")
    stored = cache.get(found)

    def rank(item: StoredManifest) -> tuple[int, float, float]:
        exact = found[item.id] != "plate"
        fit = max(plate_similarity(text, plate) for _, plate in item.record.plates())
        return (0 if exact else 1, -fit, -item.record.expected_arrival.timestamp())

    return [_hit(s.record, found[s.id]) for s in sorted(stored, key=rank)[:limit]]


def _hit(record: Manifest, matched_on: MatchedOn) -> SearchHit:
    driver = record.driver
    return SearchHit(
        issuer=record.issuer,
        ref=record.ref,
        matched_on=matched_on,
        plate=PlateView(
            text=record.transport.plate,
            latin=plate_latin(record.transport.plate),
            nationality=record.transport.nationality,
        ),
        trailers=[t.plate for t in record.trailers],
        driver_name=driver.name if driver else None,
        driver_document=driver.document_number if driver else None,
        expected_arrival=record.expected_arrival,
        seals=[s.id for s in record.seals],
    )
