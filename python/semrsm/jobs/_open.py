"""Reading a job's store: its progress, and its kernels derived from the stored objectives and norms
by the same code as :func:`semrsm.semantic_rsm`'s (``Grid.kernels``), so the numbers are the same,
as NumPy arrays or lazily as Dask arrays."""

from __future__ import annotations

import numpy as np

from ..kernels import check_kernels, check_sigma, median_of_blocks, rbf_of_distances, smallest_exponent, \
    squared_distances
from ..semantic._grid import Grid
from ._store import Store

__all__ = ["StoredRSM", "open_rsm"]


def open_rsm(path) -> "StoredRSM":
    """The job store at ``path`` (written by :func:`semrsm.run_job`), to read its kernels from.

    Raises
    ------
    ValueError
        ``path`` is not a semrsm job store.
    """
    return StoredRSM(Store.open(path))


class StoredRSM:
    """A job's results. ``options``: the job's matcher and its parameters; ``shape``: (N, M, S, C);
    ``progress``: (tiles done, tiles in all)."""

    def __init__(self, store: Store):
        self.store = store
        self.path = store.path
        self.options = store.options
        self.shape = tuple(store.attrs["shape"])
        self.symmetric = store.grid.symmetric

    def missing_tiles(self, verify: bool = False) -> list:
        """Tiles (r, c) not (or, with ``verify``, not intactly) written; rows r*tile.., columns c*tile..."""
        return self.store.missing_tiles(verify=verify)

    @property
    def progress(self) -> tuple[int, int]:
        return len(self.store.grid.tiles()) - len(self.missing_tiles()), len(self.store.grid.tiles())

    def _refuse_missing(self, missing: list) -> None:
        if missing:
            raise ValueError(f"{self.path}: {len(missing)} of {len(self.store.grid.tiles())} tiles are missing or "
                             f"damaged (the first: {missing[0]}); run the job again to compute them, or pass "
                             f"allow_missing=True to read them as NaN")

    def objective(self, allow_missing: bool = False, name: str = "objective") -> np.ndarray:
        """The N x M objectives as the engine held them (the lower triangle mirrored when symmetric),
        each tile checked against its done mark; missing tiles NaN with ``allow_missing``."""
        store, grid = self.store, self.store.grid
        if name not in store.attrs["results"]:
            raise ValueError(f"{self.path} holds no {name} (run the job with bound=True)")
        marks = store.done_marks()
        values = np.empty((grid.n, grid.m))
        missing = []
        for r, band in store.bands():
            rows = grid.rows(r)
            for c in range(r if grid.symmetric else 0, grid.shape[1]):
                cols = grid.cols(c)
                tile = store.intact(band, r, c, marks[r, c])
                if tile is not None:
                    values[rows, cols] = tile[name]
                else:
                    missing.append((r, c))
                    values[rows, cols] = np.nan
                if grid.symmetric and r != c:
                    values[cols, rows] = values[rows, cols].T
        if not allow_missing:
            self._refuse_missing(missing)
        return values

    def _grid(self, objective) -> Grid:
        group = self.store.group
        marks = self.store.done_marks()
        rounding = float(np.max(group["rounding"][...][marks != 0], initial=0.0))
        return Grid(objective, None, None, group["sq_norms_x"][...], group["sq_norms_y"][...], group["exp_x"][...],
                    group["exp_y"][...], rounding, self.symmetric)

    def kernel(self, name="cosine", *, sigma=None, lazy: bool = False, allow_missing: bool = False):
        """The RSM of kernel ``name`` ("inner", "cosine", "rbf"; a list gives a dict of them), as
        :func:`semrsm.semantic_rsm` gives it for the same input and options.

        ``sigma`` as there (RBF bandwidth or its rule, over all pairs of the job). ``lazy``: a Dask
        array computed a block at a time when read, for results larger than memory, equal to the
        in-memory kernel; an RBF median is then found first, exactly, in up to eight passes over the
        stored tiles that hold one tile at a time (``semrsm.kernels.median_of_blocks``). Missing
        tiles are an error unless ``allow_missing`` (then NaN)."""
        kernels, single = check_kernels(name)
        sigma = check_sigma(sigma)
        if lazy:
            out = {kernel: self._lazy(kernel, sigma, allow_missing) for kernel in kernels}
        else:
            out = self._grid(self.objective(allow_missing)).kernels(kernels, sigma)
        return out[kernels[0]] if single else out

    def bound(self, allow_missing: bool = False) -> np.ndarray:
        """The upper bound on every objective, at the samples' own scale (jobs run with bound=True)."""
        grid = self._grid(None)
        grid.bound = self.objective(allow_missing, name="bound")
        return grid.unscaled_bound()

    def _lazy(self, kernel: str, sigma, allow_missing: bool):
        import dask.array as da

        self._refuse_missing([] if allow_missing else self.missing_tiles())
        store, grid = self.store, self.store.grid
        objective = da.from_zarr(store.group["objective"])
        if grid.symmetric:
            lower = da.tri(grid.n, grid.m, k=-1, dtype=bool, chunks=objective.chunks)
            objective = da.where(lower, objective.T, objective)
        if allow_missing:
            marks = store.done_marks()
            done = np.zeros((grid.n, grid.m), dtype=bool)
            for r, c in grid.tiles():
                done[grid.rows(r), grid.cols(c)] = bool(marks[r, c])
                if grid.symmetric:
                    done[grid.cols(c), grid.rows(r)] = bool(marks[r, c])
            objective = da.where(da.from_array(done, chunks=objective.chunks), objective, np.nan)
        whole = self._grid(None)
        scaled = bool(whole.exp_x.any() or whole.exp_y.any())
        common = smallest_exponent((whole.exp_x, whole.exp_y), np) if scaled else 0

        def distances(values, r0, r1, c0, c1):
            """The block's squared distances, as the whole RSM's (one common scale)."""
            exponents = (whole.exp_x[r0:r1], whole.exp_y[c0:c1]) if scaled else None
            sqdist = squared_distances(values, whole.sq_norms_x[r0:r1], whole.sq_norms_y[c0:c1], exponents,
                                       whole.rounding, common, np)
            if self.symmetric:
                for i in range(max(r0, c0), min(r1, c1)):
                    sqdist[i - r0, i - c0] = 0.0
            return sqdist

        median = None
        if kernel == "rbf" and isinstance(sigma, str):
            median = median_of_blocks(lambda: self._distances_over_pairs(distances), lower=sigma == "authors")

        def block(values, block_info=None):
            (r0, r1), (c0, c1) = block_info[0]["array-location"]
            if kernel == "rbf":
                return rbf_of_distances(distances(values, r0, r1, c0, c1), sigma, median, common, np)
            part = Grid(values, None, None, whole.sq_norms_x[r0:r1], whole.sq_norms_y[c0:c1], whole.exp_x[r0:r1],
                        whole.exp_y[c0:c1], whole.rounding, False)
            out = part.kernels([kernel], sigma)[kernel]
            if self.symmetric and kernel == "cosine":
                # the diagonal is exact, as semantic_rsm has it: 1, or 0 for a zero sample
                for i in range(max(r0, c0), min(r1, c1)):
                    out[i - r0, i - c0] = 1.0 if whole.sq_norms_x[i] > 0 else 0.0
            return out

        return objective.map_blocks(block, dtype=np.float64)

    def _distances_over_pairs(self, distances):
        """The positive squared distances of the pairs the RBF median runs over (i < j when symmetric),
        a done tile at a time, read from the store."""
        store, grid = self.store, self.store.grid
        marks = store.done_marks()
        for r, band in store.bands():
            rows = grid.rows(r)
            for c in range(r if grid.symmetric else 0, grid.shape[1]):
                cols = grid.cols(c)
                tile = store.intact(band, r, c, marks[r, c])
                if tile is None:  # missing (allow_missing): not among the pairs, as NaN is not in memory
                    continue
                values = tile["objective"]
                sqdist = distances(values, rows.start, rows.stop, cols.start, cols.stop)
                if grid.symmetric and r == c:
                    sqdist = sqdist[np.triu_indices(len(sqdist), k=1)]
                yield sqdist[sqdist > 0]
