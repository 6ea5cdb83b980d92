"""The tile grid of a job: the N x M pairs cut into tiles of ``tile`` rows by ``tile`` columns, the
upper triangle only (diagonal tiles included) when x is compared with itself; the lower triangle is
the mirror of the upper one."""

from __future__ import annotations

import dataclasses

__all__ = ["TileGrid", "check_tile"]


def check_tile(tile) -> int:
    """``tile`` as a positive int, or a ValueError that says what was wrong."""
    if isinstance(tile, bool) or not isinstance(tile, (int,)) and not hasattr(tile, "__index__"):
        raise ValueError(f"tile must be a positive integer (samples per side of a tile); got {tile!r}")
    tile = int(tile)
    if tile <= 0:
        raise ValueError(f"tile must be a positive integer (samples per side of a tile); got {tile}")
    return tile


@dataclasses.dataclass(frozen=True)
class TileGrid:
    """Tiles (r, c) of an n x m pair grid: rows r*tile..(r+1)*tile of x against those columns of y."""

    n: int
    m: int
    tile: int
    symmetric: bool

    @property
    def shape(self) -> tuple[int, int]:
        """Tiles along the rows and along the columns."""
        return -(-self.n // self.tile), -(-self.m // self.tile)

    def tiles(self) -> list:
        """Every tile of the job, (r, c) with r <= c when symmetric, row by row."""
        rows, cols = self.shape
        return [(r, c) for r in range(rows) for c in range(r if self.symmetric else 0, cols)]

    def rows(self, r: int) -> slice:
        return slice(r * self.tile, min(self.n, (r + 1) * self.tile))

    def cols(self, c: int) -> slice:
        return slice(c * self.tile, min(self.m, (c + 1) * self.tile))

    def pairs(self, r: int, c: int) -> int:
        """Pairs the engine solves for tile (r, c): i < j only on a diagonal tile of a symmetric job."""
        rows, cols = self.rows(r), self.cols(c)
        n, m = rows.stop - rows.start, cols.stop - cols.start
        return n * (n - 1) // 2 if self.symmetric and r == c else n * m
