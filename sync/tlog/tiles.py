"""Complete-subtree hashes served from C2SP tlog-tiles style tiles (c2sp.org/tlog-tiles).

A tile of height 8 holds up to 256 consecutive hashes of one tree level that is a multiple
of 8 (tile level t holds tree level 8t). Stored that way a log of ten million entries is
about 39,000 immutable rows of 8 KiB rather than twenty million rows of one hash, costs
32 bytes and a bit per entry, and the same tiles can later be handed to auditors as they
are. The nodes between the stored levels are recomputed from one tile: at most 255 hashes,
done once per tile and cached, so a proof touches a handful of tiles."""

from __future__ import annotations

from typing import Protocol

from sync.tlog.merkle import HASH_SIZE, ProofError, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT


class TileSource(Protocol):
    def tile(self, level: int, index: int, width: int) -> bytes:
        """The first `width` hashes (1..256, concatenated) of tile `index` at tile `level`."""
        ...


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile (level, index) holds in a tree of `size` leaves (0 if none)."""
    row = size >> (TILE_HEIGHT * level)  # complete nodes at tree level 8 * level
    return max(0, min(TILE_WIDTH, row - index * TILE_WIDTH))


class TileHashReader:
    """A merkle.HashReader for a tree of `size` leaves over a TileSource."""

    def __init__(self, source: TileSource, size: int, cache_tiles: int = 64) -> None:
        self._source = source
        self.size = size
        self._cache: dict[tuple[int, int], list[list[bytes]]] = {}
        self._cache_tiles = cache_tiles

    def node(self, level: int, index: int) -> bytes:
        if (index + 1) << level > self.size:
            raise ProofError(f"node ({level}, {index}): not complete in a tree of {self.size}")
        tile_level, height = divmod(level, TILE_HEIGHT)
        first = index << height  # its first hash in the stored row
        rows = self._rows(tile_level, first // TILE_WIDTH)
        return rows[height][(first % TILE_WIDTH) >> height]

    def _rows(self, level: int, index: int) -> list[list[bytes]]:
        """The tile's hashes and every complete level above them inside the tile."""
        key = (level, index)
        rows = self._cache.get(key)
        if rows is not None:
            return rows
        width = tile_width(level, index, self.size)
        data = self._source.tile(level, index, width)
        if len(data) != width * HASH_SIZE:
            raise ProofError(f"tile ({level}, {index}): {len(data)} bytes, expected {width} hashes")
        rows = [[data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]]
        while len(rows[-1]) > 1:
            below = rows[-1]
            rows.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
        # A reader serves one tree size, so even its partial tiles cannot change under it.
        if len(self._cache) >= self._cache_tiles:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = rows
        return rows
