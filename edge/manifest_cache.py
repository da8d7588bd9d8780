"""The local cache of pre-arrival e-manifests: stored in SQLite, looked up by plate in memory.

SQLite is the truth; the in-memory plate index is rebuilt from it on first use and kept in step
with every change this cache makes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from edge.manifest import Manifest
from edge.plates import retrieval_key
from edge.store.schema import manifest_plates, manifest_seals, manifests
from edge.timeutil import utcnow


def normalise_id(value: str) -> str:
    """Seal ids and document numbers compare without case, spaces or dashes."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


@dataclass(frozen=True)
class StoredManifest:
    id: int
    record: Manifest


@dataclass
class UpsertCounts:
    inserted: int = 0
    replaced: int = 0
    ignored: int = 0  # the same or an older version of a record already stored

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.inserted += other.inserted
        self.replaced += other.replaced
        self.ignored += other.ignored
        return self


@dataclass
class PlateIndex:
    """retrieval key -> ids of the manifests with a plate of that key."""

    keys: dict[str, list[int]] = field(default_factory=dict)

    def add(self, key: str, manifest_id: int) -> None:
        self.keys.setdefault(key, []).append(manifest_id)

    def remove(self, key: str, manifest_id: int) -> None:
        ids = self.keys.get(key)
        if ids and manifest_id in ids:
            ids.remove(manifest_id)
            if not ids:
                del self.keys[key]

    def lookup(self, keys: Iterable[str]) -> set[int]:
        found: set[int] = set()
        index = self.keys
        for key in keys:
            ids = index.get(key)
            if ids:
                found.update(ids)
        return found


class ManifestCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._index: PlateIndex | None = None

    # -- writing -----------------------------------------------------------------------------

    def upsert(self, records: Sequence[Manifest]) -> UpsertCounts:
        """Store records in one durable transaction. A higher version of a (issuer, ref)
        replaces the stored one; the same or a lower version is ignored."""
        counts = UpsertCounts()
        now = utcnow()
        # Within one batch the highest version of each record wins, as it would one by one.
        latest: dict[tuple[str, str], Manifest] = {}
        for record in records:
            key = (record.issuer, record.ref)
            seen = latest.get(key)
            if seen is None or record.version > seen.version:
                if seen is not None:
                    counts.ignored += 1
                latest[key] = record
            else:
                counts.ignored += 1
        with self.engine.begin() as conn:
            stored = self._stored_versions(conn, list(latest))
            fresh: list[Manifest] = []
            for key, record in latest.items():
                old = stored.get(key)
                if old is None:
                    fresh.append(record)
                elif record.version > old[1]:
                    self._replace(conn, old[0], record, now)
                    counts.replaced += 1
                else:
                    counts.ignored += 1
            self._insert(conn, fresh, now)
            counts.inserted += len(fresh)
        return counts

    def _stored_versions(
        self, conn: Connection, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        found: dict[tuple[str, str], tuple[int, int]] = {}
        refs = sorted({ref for _, ref in keys})
        for start in range(0, len(refs), 500):
            rows = conn.execute(
                select(
                    manifests.c.issuer, manifests.c.ref, manifests.c.id, manifests.c.version
                ).where(manifests.c.ref.in_(refs[start : start + 500]))
            )
            for issuer, ref, id_, version in rows:
                found[(issuer, ref)] = (id_, version)
        return found

    @staticmethod
    def _row(record: Manifest, now: dt.datetime) -> dict[str, object]:
        return {
            "issuer": record.issuer,
            "ref": record.ref,
            "version": record.version,
            "expected_arrival": record.expected_arrival,
            "driver_document": normalise_id(record.driver.document_number)
            if record.driver
            else None,
            "record": record.to_json(),
            "stored_at": now,
        }

    def _insert(self, conn: Connection, records: list[Manifest], now: dt.datetime) -> None:
        if not records:
            return
        first_id = (conn.execute(select(func.max(manifests.c.id))).scalar() or 0) + 1
        rows = []
        for offset, record in enumerate(records):
            row = self._row(record, now)
            row["id"] = first_id + offset
            rows.append(row)
        conn.execute(insert(manifests), rows)
        self._insert_children(conn, list(enumerate(records, start=first_id)))

    def _insert_children(self, conn: Connection, pairs: list[tuple[int, Manifest]]) -> None:
        plates = [
            (id_, position, plate, retrieval_key(plate))
            for id_, record in pairs
            for position, (_, plate) in enumerate(record.plates())
        ]
        seals = [
            {"manifest_id": id_, "seal_id": normalise_id(seal.id)}
            for id_, record in pairs
            for seal in record.seals
        ]
        if plates:
            conn.execute(
                insert(manifest_plates),
                [
                    {"manifest_id": i, "position": p, "plate": plate, "retrieval_key": key}
                    for i, p, plate, key in plates
                ],
            )
        if seals:
            conn.execute(insert(manifest_seals), seals)
        if self._index is not None:
            for id_, _, _, key in plates:
                self._index.add(key, id_)

    def _replace(self, conn: Connection, id_: int, record: Manifest, now: dt.datetime) -> None:
        self._delete_children(conn, [id_])
        conn.execute(update(manifests).where(manifests.c.id == id_).values(self._row(record, now)))
        self._insert_children(conn, [(id_, record)])

    def _delete_children(self, conn: Connection, ids: list[int]) -> None:
        if self._index is not None:
            rows = conn.execute(
                select(manifest_plates.c.retrieval_key, manifest_plates.c.manifest_id).where(
                    manifest_plates.c.manifest_id.in_(ids)
                )
            )
            for key, manifest_id in rows:
                self._index.remove(key, manifest_id)
        conn.execute(delete(manifest_plates).where(manifest_plates.c.manifest_id.in_(ids)))
        conn.execute(delete(manifest_seals).where(manifest_seals.c.manifest_id.in_(ids)))

    def purge(self, expected_before: dt.datetime) -> int:
        """Delete the records expected before `expected_before`; returns how many."""
        purged = 0
        with self.engine.begin() as conn:
            while True:
                ids = list(
                    conn.execute(
                        select(manifests.c.id)
                        .where(manifests.c.expected_arrival < expected_before)
                        .limit(500)
                    ).scalars()
                )
                if not ids:
                    return purged
                self._delete_children(conn, ids)
                conn.execute(delete(manifests).where(manifests.c.id.in_(ids)))
                purged += len(ids)

    # -- reading -----------------------------------------------------------------------------

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(manifests)).scalar() or 0)

    def plate_index(self) -> PlateIndex:
        if self._index is None:
            index = PlateIndex()
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(manifest_plates.c.retrieval_key, manifest_plates.c.manifest_id)
                )
                for key, manifest_id in rows:
                    index.add(key, manifest_id)
            self._index = index
        return self._index

    def get(self, ids: Iterable[int]) -> list[StoredManifest]:
        wanted = sorted(set(ids))
        out: list[StoredManifest] = []
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(manifests.c.id, manifests.c.record).where(
                        manifests.c.id.in_(wanted[start : start + 500])
                    )
                )
                out.extend(
                    StoredManifest(id_, Manifest.model_validate_json(record))
                    for id_, record in rows
                )
        return out

    def ids_by_seal(self, seal_ids: Iterable[str]) -> set[int]:
        keys = [normalise_id(s) for s in seal_ids]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(manifest_seals.c.manifest_id).where(manifest_seals.c.seal_id.in_(keys))
            )
            return set(rows.scalars())

    def ids_by_document(self, document_number: str) -> set[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(manifests.c.id).where(
                    manifests.c.driver_document == normalise_id(document_number)
                )
            )
            return set(rows.scalars())

    def ids_by_ref(self, ref: str) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(manifests.c.id).where(manifests.c.ref == ref)).scalars())

    def iter_all(self, batch: int = 1000) -> Iterator[StoredManifest]:
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(manifests.c.id, manifests.c.record)
                    .where(manifests.c.id > last)
                    .order_by(manifests.c.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for id_, record in rows:
                yield StoredManifest(id_, Manifest.model_validate_json(record))
            last = rows[-1][0]
