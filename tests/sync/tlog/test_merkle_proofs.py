"""Store-backed proofs equal the RFC's recursive definitions for every index and size up to
a few hundred, verify, and stop verifying when anything in them changes; at sizes up to 2**40
the generator and the verifiers still agree with a tree computed independently."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.tlog.merkle import (
    EMPTY_ROOT,
    MemoryHashStore,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_inclusion_proof,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.sync.tlog.naive import NaiveTree
from tests.sync.tlog.sparse import SparseTree

MAX_SIZE = 300


@pytest.fixture(scope="module")
def trees() -> tuple[MemoryHashStore, NaiveTree]:
    leaves = [b"entry %d" % i for i in range(MAX_SIZE)]
    store = MemoryHashStore()
    for data in leaves:
        store.append(leaf_hash(data))
    return store, NaiveTree(leaves)


def test_root_of_every_size_matches_the_rfc_definition(
    trees: tuple[MemoryHashStore, NaiveTree],
) -> None:
    store, naive = trees
    assert tree_hash(store, 0) == EMPTY_ROOT
    for size in range(1, MAX_SIZE + 1):
        assert tree_hash(store, size) == naive.mth(0, size), size


def test_every_inclusion_proof_up_to_300(trees: tuple[MemoryHashStore, NaiveTree]) -> None:
    store, naive = trees
    for size in range(1, MAX_SIZE + 1):
        root = naive.mth(0, size)
        for index in range(size):
            proof = inclusion_proof(store, index, size)
            assert proof == naive.path(index, 0, size), (index, size)
            verify_inclusion(index, size, naive.mth(index, index + 1), proof, root)


def test_every_consistency_proof_up_to_300(trees: tuple[MemoryHashStore, NaiveTree]) -> None:
    store, naive = trees
    for new in range(1, MAX_SIZE + 1):
        new_root = naive.mth(0, new)
        for old in range(new + 1):
            proof = consistency_proof(store, old, new)
            assert proof == naive.proof(old, new), (old, new)
            verify_consistency(old, new, proof, naive.mth(0, old), new_root)


def test_a_proof_of_one_index_proves_no_other(trees: tuple[MemoryHashStore, NaiveTree]) -> None:
    store, naive = trees
    for size in (2, 3, 7, 8, 9, 100, 255, 256, 257, MAX_SIZE):
        root = naive.mth(0, size)
        for index in range(0, size, 7):
            proof = inclusion_proof(store, index, size)
            other = (index + 1) % size
            with pytest.raises(ProofError):
                verify_inclusion(other, size, naive.mth(index, index + 1), proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(index, size, naive.mth(other, other + 1), proof, root)


def test_a_rewritten_entry_breaks_consistency(trees: tuple[MemoryHashStore, NaiveTree]) -> None:
    store, naive = trees
    for old in (1, 5, 64, 100, 299):
        rewritten = NaiveTree([*naive.leaves[: old - 1], b"rewritten", *naive.leaves[old:]])
        proof = consistency_proof(store, old, MAX_SIZE)
        with pytest.raises(ProofError):
            verify_consistency(old, MAX_SIZE, proof, rewritten.mth(0, old), naive.mth(0, MAX_SIZE))


def test_proofs_beyond_the_store_are_refused(trees: tuple[MemoryHashStore, NaiveTree]) -> None:
    store, _ = trees
    with pytest.raises(ProofError):
        inclusion_proof(store, 5, 5)
    with pytest.raises(ProofError):
        inclusion_proof(store, 0, MAX_SIZE + 1)
    with pytest.raises(ProofError):
        consistency_proof(store, 10, 9)
    with pytest.raises(ProofError):
        consistency_proof(store, 10, MAX_SIZE + 1)


def expected_inclusion_length(index: int, size: int) -> int:
    """transparency-dev/merkle's decomposition: inner levels plus the right border."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + bin(index >> inner).count("1")


HUGE = 2**40


@settings(max_examples=60, deadline=None)
@given(st.integers(1, HUGE).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_at_sizes_up_to_2_pow_40(size_and_index: tuple[int, int]) -> None:
    size, index = size_and_index
    tree = SparseTree({index, size - 1, index // 3})
    root = tree_hash(tree, size)
    leaf = tree.node(0, index)
    proof = inclusion_proof(tree, index, size)
    assert len(proof) == expected_inclusion_length(index, size)
    assert root_from_inclusion_proof(index, size, leaf, proof) == root
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(b"another entry"), proof, root)
    for i in range(len(proof)):
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, [*proof[:i], flip(proof[i]), *proof[i + 1 :]], root)


def flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, HUGE).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_at_sizes_up_to_2_pow_40(sizes: tuple[int, int]) -> None:
    old, new = sizes
    tree = SparseTree({old - 1, new - 1, old // 2})
    old_root, new_root = tree_hash(tree, old), tree_hash(tree, new)
    proof = consistency_proof(tree, old, new)
    verify_consistency(old, new, proof, old_root, new_root)
    if old < new:
        with pytest.raises(ProofError):
            verify_consistency(old, new, proof, old_root, leaf_hash(b"another history"))
        with pytest.raises(ProofError):
            verify_consistency(old, new, proof, leaf_hash(b"another past"), new_root)
        for i in range(len(proof)):
            tampered = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
            with pytest.raises(ProofError):
                verify_consistency(old, new, tampered, old_root, new_root)
