"""Hashes served from tiles of height 8 are the same complete-subtree hashes as the plain
store's, for full and partial tiles at the first two tile levels, and proofs drawn through
them at ten million entries verify."""

from __future__ import annotations

import pytest

from sync.tlog.merkle import (
    HashReader,
    MemoryHashStore,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from sync.tlog.tiles import TILE_WIDTH, TileHashReader, tile_width
from tests.sync.tlog.sparse import SparseTree


class TilesOf:
    """Cuts any HashReader's stored levels 0, 8, 16... into tiles, counting fetches."""

    def __init__(self, reader: HashReader) -> None:
        self.reader = reader
        self.fetched: list[tuple[int, int, int]] = []

    def tile(self, level: int, index: int, width: int) -> bytes:
        self.fetched.append((level, index, width))
        first = index * TILE_WIDTH
        return b"".join(self.reader.node(8 * level, first + i) for i in range(width))


@pytest.fixture(scope="module")
def store() -> MemoryHashStore:
    store = MemoryHashStore()
    for i in range(TILE_WIDTH * TILE_WIDTH + 300):  # one full tile at level 1, and a partial one
        store.append(leaf_hash(b"%d" % i))
    return store


def test_tile_widths_follow_the_tree_size() -> None:
    assert tile_width(0, 0, 1) == 1
    assert tile_width(0, 0, 256) == 256
    assert tile_width(0, 1, 256) == 0
    assert tile_width(0, 1, 300) == 44
    assert tile_width(1, 0, 300) == 1
    assert tile_width(1, 0, 255) == 0
    assert tile_width(2, 0, 2**16) == 1


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 600, TILE_WIDTH * TILE_WIDTH + 300])
def test_every_complete_node_read_through_tiles_matches_the_store(
    store: MemoryHashStore, size: int
) -> None:
    tiled = TileHashReader(TilesOf(store), size)
    level = 0
    while 1 << level <= size:
        for index in range(size >> level):
            assert tiled.node(level, index) == store.node(level, index), (level, index)
        level += 1
    assert tree_hash(tiled, size) == tree_hash(store, size)


def test_nodes_beyond_the_tree_are_refused(store: MemoryHashStore) -> None:
    tiled = TileHashReader(TilesOf(store), 300)
    with pytest.raises(ProofError):
        tiled.node(0, 300)
    with pytest.raises(ProofError):
        tiled.node(8, 1)


def test_a_short_tile_is_refused(store: MemoryHashStore) -> None:
    class Short(TilesOf):
        def tile(self, level: int, index: int, width: int) -> bytes:
            return super().tile(level, index, width)[:-1]

    with pytest.raises(ProofError, match="tile"):
        TileHashReader(Short(store), 300).node(0, 0)


def test_each_tile_is_fetched_once_per_reader(store: MemoryHashStore) -> None:
    source = TilesOf(store)
    tiled = TileHashReader(source, 300)
    for _ in range(2):
        inclusion_proof(tiled, 3, 300)
        inclusion_proof(tiled, 299, 300)
    assert source.fetched.count((0, 0, 256)) == 1
    assert source.fetched.count((0, 1, 44)) == 1
    assert len(source.fetched) == len(set(source.fetched))


def test_proofs_at_ten_million_entries_through_tiles_verify() -> None:
    size, index, old = 10_000_000, 7_654_321, 9_999_000
    tree = SparseTree({index, old - 1, size - 1})
    tiled = TileHashReader(TilesOf(tree), size)
    root = tree_hash(tree, size)
    assert tree_hash(tiled, size) == root
    verify_inclusion(index, size, tree.node(0, index), inclusion_proof(tiled, index, size), root)
    proof = consistency_proof(tiled, old, size)
    verify_consistency(old, size, proof, tree_hash(tree, old), root)
