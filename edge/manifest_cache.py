"""The local cache of pre-arrival e-manifests: stored in SQLite, looked up by plate in memory.

SQLite is the truth; the in-memory plate index is rebuilt from it on first use and kept in step
with every change this cache makes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, Engine, delete, func, select

from edge.manifest import Manifest
from edge.plates import retrieval_key
from edge.store.schema import manifest_plates, manifest_seals, manifests
from edge.timeutil import format_utc, utcnow

_INSERT_MANIFEST = (
    "INSERT INTO manifests (id, issuer, ref, version, expected_arrival, driver_document, record,"
    " stored_at, tir_carnet, cmr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_PLATE = (
    "INSERT INTO manifest_plates (manifest_id, position, plate, retrieval_key) VALUES (?, ?, ?, ?)"
)
_INSERT_SEAL = "INSERT INTO manifest_seals (manifest_id, position, seal_id) VALUES (?, ?, ?)"


def normalise_id(value: str) -> str:
    """Seal ids and document numbers compare without case, spaces or dashes."""
    upper = value.upper()
    return upper if upper.isalnum() else "".join(filter(str.isalnum, upper))


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


class PreparedManifest(NamedTuple):
    """A validated record turned into the rows it is stored as. Preparing is the CPU-heavy
    half of storing, so a bulk import does it in worker processes; a tuple pickles cheaply."""

    issuer: str
    ref: str
    version: int
    expected_arrival: str
    driver_document: str | None
    record_json: str
    tir_carnet: str | None
    cmr: str | None
    plates: tuple[tuple[int, str, str], ...]  # (position, plate as written, retrieval key)
    seals: tuple[tuple[int, str], ...]  # (position, normalised seal id)

    @classmethod
    def of(cls, record: Manifest) -> PreparedManifest:
        driver = record.driver
        return cls(
            record.issuer,
            record.ref,
            record.version,
            format_utc(record.expected_arrival),
            normalise_id(driver.document_number) if driver else None,
            record.to_json(),
            normalise_id(record.tir_carnet) if record.tir_carnet else None,
            normalise_id(record.cmr) if record.cmr else None,
            tuple(
                (position, plate, retrieval_key(plate))
                for position, (_, plate) in enumerate(record.plates())
            ),
            tuple((position, normalise_id(s.id)) for position, s in enumerate(record.seals)),
        )


class ManifestCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._index: PlateIndex | None = None

    # -- writing -----------------------------------------------------------------------------

    def upsert(self, records: Sequence[Manifest]) -> UpsertCounts:
        return self.upsert_prepared([PreparedManifest.of(r) for r in records])

    def upsert_prepared(
        self, records: Sequence[PreparedManifest], conn: Connection | None = None
    ) -> UpsertCounts:
        """Store records in one durable transaction, or in the caller's (`conn`: the inbox
        applies a message and records it as applied at once). A higher version of an
        (issuer, ref) replaces the stored one; the same or a lower version is ignored."""
        if conn is None:
            with self.engine.begin() as own:
                return self.upsert_prepared(records, own)
        counts = UpsertCounts()
        stored_at = format_utc(utcnow())
        # Within one batch the highest version of each record wins, as it would one by one.
        latest: dict[tuple[str, str], PreparedManifest] = {}
        for record in records:
            key = (record.issuer, record.ref)
            seen = latest.get(key)
            if seen is None or record.version > seen.version:
                latest[key] = record
            counts.ignored += seen is not None
        stored = self._stored_versions(conn, list(latest))
        fresh: list[PreparedManifest] = []
        for key, record in latest.items():
            old = stored.get(key)
            if old is None:
                fresh.append(record)
            elif record.version > old[1]:
                self._delete_children(conn, [old[0]])
                conn.execute(delete(manifests).where(manifests.c.id == old[0]))
                self._insert(conn, [(old[0], record)], stored_at)
                counts.replaced += 1
            else:
                counts.ignored += 1
        if fresh:
            first_id = (conn.exec_driver_sql("SELECT max(id) FROM manifests").scalar() or 0) + 1
            self._insert(conn, list(enumerate(fresh, start=first_id)), stored_at)
        counts.inserted += len(fresh)
        return counts

    def _stored_versions(
        self, conn: Connection, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        # Plain SQL: this runs for every record an inbox applies, where statement building
        # would cost more than the lookup.
        found: dict[tuple[str, str], tuple[int, int]] = {}
        refs = sorted({ref for _, ref in keys})
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.exec_driver_sql(
                f"SELECT issuer, ref, id, version FROM manifests WHERE ref IN ({marks})",
                tuple(chunk),
            )
            for issuer, ref, id_, version in rows:
                found[(issuer, ref)] = (id_, version)
        return found

    def _insert(
        self, conn: Connection, pairs: list[tuple[int, PreparedManifest]], stored_at: str
    ) -> None:
        # The hot path of a million-record import: plain executemany, no per-row compilation.
        conn.exec_driver_sql(
            _INSERT_MANIFEST,
            [
                (id_, r.issuer, r.ref, r.version, r.expected_arrival, r.driver_document,
                 r.record_json, stored_at, r.tir_carnet, r.cmr)
                for id_, r in pairs
            ],
        )  # fmt: skip
        plates = [(id_, *plate) for id_, r in pairs for plate in r.plates]
        seals = [(id_, *seal) for id_, r in pairs for seal in r.seals]
        if plates:
            conn.exec_driver_sql(_INSERT_PLATE, plates)
        if seals:
            conn.exec_driver_sql(_INSERT_SEAL, seals)
        if self._index is not None:
            for id_, _, _, key in plates:
                self._index.add(key, id_)

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

    def withdraw(self, conn: Connection, withdrawals: Sequence[tuple[str, str, int]]) -> int:
        """Forget the records their issuer withdrew (cancelled, or no longer for this post), in
        the caller's transaction; how many were stored. Each (issuer, ref, version) withdraws
        the versions up to `version`: a later one stored was issued after it, and stands.

        No tombstone is kept, so a withdrawn record comes back if an older version arrives
        later; on the path withdrawals travel that does not happen: the centre sends a box a
        record's versions and their withdrawals on one ordered stream, which the inbox applies
        in `seq` order and each message once, so every version a withdrawal covers came before
        it, and a redelivered one is a duplicate, dropped. The exception is a gap the inbox
        gave up on (`Inbox.release_gaps`): a version that turns up after it is applied late,
        and the record stays until its expected arrival is purged."""
        upto: dict[tuple[str, str], int] = {}
        for issuer, ref, version in withdrawals:
            upto[(issuer, ref)] = max(version, upto.get((issuer, ref), version))
        stored = self._stored_versions(conn, list(upto))  # every issuer's record of these refs
        ids = [
            id_ for key, (id_, version) in stored.items() if key in upto and version <= upto[key]
        ]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self._delete_children(conn, chunk)
            conn.execute(delete(manifests).where(manifests.c.id.in_(chunk)))
        return len(ids)

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

    def forget_index(self) -> None:
        """Drop the in-memory index (after a rolled-back transaction that changed it); it is
        rebuilt from SQLite on next use."""
        self._index = None

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

    def ids_by_reference(self, references: Iterable[str]) -> set[int]:
        """Records whose ref, TIR carnet or CMR number is one of `references`."""
        raw = [r.strip() for r in references if r.strip()]
        keys = [normalise_id(r) for r in raw]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(manifests.c.id).where(
                    manifests.c.ref.in_(raw)
                    | manifests.c.tir_carnet.in_(keys)
                    | manifests.c.cmr.in_(keys)
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
