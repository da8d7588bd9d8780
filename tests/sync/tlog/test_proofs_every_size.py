"""The log in the database gives the same roots and proofs as the in-memory reference
(sync.tlog.merkle.MemoryHashStore, itself checked against RFC 9162's definitions and
published vectors): for every size up to 300, every leaf index and every older size, while the
tree grows one entry at a time (partial tiles grow in place) and after; and at random sizes
of a log of 100,000 entries integrated in uneven batches (three tile levels)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import select

from edge.store.schema import tlog_entries
from sync.tlog.merkle import (
    MemoryHashStore,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from sync.tlog.store import TransparencyLog, entry_leaf
from tests.sync.tlog.logs import fill, make_log

MAX_SIZE = 300
LARGE = 100_000


def reference(log: TransparencyLog, size: int) -> MemoryHashStore:
    store = MemoryHashStore()
    for entry in log.entries(0, size):
        store.append(leaf_hash(entry.leaf()))
    assert store.size == size
    return store


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> tuple[TransparencyLog, MemoryHashStore]:
    """A log grown one entry a transaction, its root checked at each size as it grew."""
    log = make_log(tmp_path_factory.mktemp("tlog") / "box")
    fill(log, 0, MAX_SIZE)
    store = reference_of_queue(log)
    for size in range(1, MAX_SIZE + 1):
        assert log.integrate(limit=1) == size
        assert log.root() == store.root(size), f"root of size {size} while growing"
        # The newest leaf's proof and the proof from the size before, at once.
        assert log.inclusion_proof(size - 1, size) == inclusion_proof(store, size - 1, size)
        assert log.consistency_proof(size - 1, size) == consistency_proof(store, size - 1, size)
    return log, store


def reference_of_queue(log: TransparencyLog) -> MemoryHashStore:
    """The reference tree of the queued entries, in the order they were appended."""
    store = MemoryHashStore()
    with log.engine.connect() as conn:
        for row in conn.execute(select(tlog_entries).order_by(tlog_entries.c.id)):
            store.append(
                leaf_hash(entry_leaf(row.kind, row.message_id, row.type, row.party,
                                     bytes(row.envelope_sha256)))
            )  # fmt: skip
    return store


def test_every_inclusion_proof_of_every_size(
    grown: tuple[TransparencyLog, MemoryHashStore],
) -> None:
    log, store = grown
    for size in range(1, MAX_SIZE + 1):
        with log.reader(size) as reader:
            root = tree_hash(reader, size)
            assert root == store.root(size)
            for index in range(size):
                proof = inclusion_proof(reader, index, size)
                assert proof == inclusion_proof(store, index, size), (index, size)
                verify_inclusion(index, size, store.node(0, index), proof, root)


def test_every_consistency_proof_of_every_pair_of_sizes(
    grown: tuple[TransparencyLog, MemoryHashStore],
) -> None:
    log, store = grown
    for size in range(1, MAX_SIZE + 1):
        with log.reader(size) as reader:
            for old in range(size + 1):
                proof = consistency_proof(reader, old, size)
                assert proof == consistency_proof(store, old, size), (old, size)
                verify_consistency(old, size, proof, store.root(old), store.root(size))


def test_the_logs_own_methods_agree_for_small_sizes(
    grown: tuple[TransparencyLog, MemoryHashStore],
) -> None:
    log, store = grown
    for size in range(1, 40):
        for index in range(size):
            assert log.inclusion_proof(index, size) == inclusion_proof(store, index, size)
            assert log.consistency_proof(index, size) == consistency_proof(store, index, size)


def test_random_proofs_in_a_log_of_a_hundred_thousand(tmp_path: Path) -> None:
    rng = random.Random(17)
    log = make_log(tmp_path / "box")
    fill(log, 0, LARGE)
    store = reference_of_queue(log)
    size = 0
    while size < LARGE:  # uneven batches: partial tiles at every level grow in place
        size = log.integrate(limit=rng.choice([1, 7, 255, 256, 257, 1000, 4093, 20_000]))
    assert reference(log, LARGE).root() == store.root() == log.root()
    sizes = [rng.randrange(1, LARGE + 1) for _ in range(60)] + [65_536, 65_537, LARGE]
    for size in sizes:
        with log.reader(size) as reader:
            root = tree_hash(reader, size)
            assert root == store.root(size), size
            for index in [rng.randrange(size) for _ in range(5)] + [0, size - 1]:
                proof = inclusion_proof(reader, index, size)
                assert proof == inclusion_proof(store, index, size), (index, size)
                verify_inclusion(index, size, store.node(0, index), proof, root)
            for old in [rng.randrange(size + 1) for _ in range(5)] + [1, size - 1]:
                proof = consistency_proof(reader, old, size)
                assert proof == consistency_proof(store, old, size), (old, size)
                verify_consistency(old, size, proof, store.root(old), root)
