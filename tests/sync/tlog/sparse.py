"""A consistent Merkle tree of up to 2**62 leaves that costs almost nothing: every leaf is
the hash of b"" except a few marked ones, so a complete subtree without a marked leaf has a
hash that depends on its level alone, and only the O(log n) nodes above a marked leaf are
computed. Proof generation and verification can then run at sizes no store could hold."""

from __future__ import annotations

import bisect
from functools import cache

from sync.tlog.merkle import leaf_hash, node_hash


class SparseTree:
    def __init__(self, marked: set[int]) -> None:
        self.marked = sorted(marked)
        self.uniform = [leaf_hash(b"")]
        for _ in range(63):
            self.uniform.append(node_hash(self.uniform[-1], self.uniform[-1]))

    @staticmethod
    def data(index: int) -> bytes:
        return b"marked %d" % index

    def _has_marked(self, lo: int, hi: int) -> bool:
        i = bisect.bisect_left(self.marked, lo)
        return i < len(self.marked) and self.marked[i] < hi

    @cache  # noqa: B019 - a handful of trees per test run
    def node(self, level: int, index: int) -> bytes:
        lo = index << level
        if not self._has_marked(lo, lo + (1 << level)):
            return self.uniform[level]
        if level == 0:
            return leaf_hash(self.data(index))
        return node_hash(self.node(level - 1, 2 * index), self.node(level - 1, 2 * index + 1))
