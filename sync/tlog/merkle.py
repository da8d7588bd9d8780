"""RFC 9162 §2.1 Merkle tree hashes, inclusion and consistency proofs.

Proofs are generated from a `HashReader` that serves the hashes of complete subtrees (the
"stored hashes" of Go's sumdb/tlog): a proof then reads O(log n) stored nodes instead of
rehashing leaves, so a database can answer for a log of ten million entries. The verifiers
follow the RFC's algorithms step by step and need nothing but the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims, or a request no proof can answer."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class HashReader(Protocol):
    """Hashes of complete subtrees: `node(level, index)` is the root of leaves
    [index * 2**level, (index + 1) * 2**level); level 0 is the leaf hash itself."""

    def node(self, level: int, index: int) -> bytes: ...


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (RFC 9162's k), for size > 1."""
    return 1 << ((size - 1).bit_length() - 1)


def range_hash(reader: HashReader, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) where start is aligned to the largest complete subtree."""
    size = end - start
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return reader.node(level, start >> level)
    k = _split(size)
    return node_hash(
        reader.node(k.bit_length() - 1, start // k), range_hash(reader, start + k, end)
    )


def tree_hash(reader: HashReader, size: int) -> bytes:
    """The root hash of the first `size` leaves."""
    if size < 0:
        raise ProofError(f"tree size {size}: negative")
    return EMPTY_ROOT if size == 0 else range_hash(reader, 0, size)


def inclusion_proof(reader: HashReader, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index}: not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(range_hash(reader, start + k, end))
            end = start + k
        else:
            path.append(range_hash(reader, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(reader: HashReader, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1; empty for old_size 0 or equal sizes."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"sizes {old_size} -> {new_size}: a log only grows")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    start, end, whole = 0, new_size, True
    m = old_size
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append(range_hash(reader, start + k, end))
            end = start + k
        else:
            path.append(range_hash(reader, start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        path.append(range_hash(reader, start, end))
    path.reverse()
    return path


def _check_hashes(what: str, hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ProofError(f"{what}[{i}]: {len(h)} bytes, a SHA-256 hash has {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2 up to the comparison: the root the proof leads to."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index}: not in a tree of size {size}")
    _check_hashes("leaf hash", [leaf])
    _check_hashes("proof", proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(f"proof: {len(proof)} hashes, too long for index {index} of {size}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"proof: {len(proof)} hashes, too short for index {index} of {size}")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` under `root`."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof of leaf {index} in {size}: root does not match")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless the tree of `new_size` extends that of
    `old_size`. Size 0 is consistent with anything only if its root is the empty-tree hash."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"sizes {old_size} -> {new_size}: a log only grows")
    _check_hashes("roots", [old_root, new_root])
    _check_hashes("proof", proof)
    if old_size == new_size or old_size == 0:
        if proof:
            raise ProofError(f"sizes {old_size} -> {new_size}: the proof must be empty")
        if old_size == new_size and old_root != new_root:
            raise ProofError(f"size {old_size}: two different roots")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("size 0: the root must be the empty-tree hash")
        return
    if not proof:
        raise ProofError(f"sizes {old_size} -> {new_size}: empty proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"sizes {old_size} -> {new_size}: proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"sizes {old_size} -> {new_size}: proof too short")
    if fr != old_root:
        raise ProofError(f"sizes {old_size} -> {new_size}: old root does not match")
    if sr != new_root:
        raise ProofError(f"sizes {old_size} -> {new_size}: new root does not match")


class MemoryHashStore:
    """Every complete subtree hash in lists, one per level (about 2n hashes): the in-memory
    `HashReader` of tests and tools. A database store serves the same nodes from tiles."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash; return its index."""
        index = self.size
        h, level = leaf, 0
        while True:
            if level == len(self._levels):
                self._levels.append([])
            row = self._levels[level]
            row.append(h)
            if len(row) % 2:
                return index
            h = node_hash(row[-2], row[-1])
            level += 1

    def node(self, level: int, index: int) -> bytes:
        try:
            return self._levels[level][index]
        except IndexError:
            raise ProofError(f"node ({level}, {index}): not stored for size {self.size}") from None

    def root(self, size: int | None = None) -> bytes:
        return tree_hash(self, self.size if size is None else size)
