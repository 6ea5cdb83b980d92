"""Reading a job's store: its progress, and its kernels derived from the stored objectives and norms
by the same code as :func:`semrsm.semantic_rsm`'s (``Grid.kernels``), so the numbers are the same,
as NumPy arrays or lazily as Dask arrays."""

from __future__ import annotations

import numpy as np

from ..kernels import check_kernels, check_sigma
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
        array computed a tile at a time when read (kernels "inner" and "cosine", and "rbf" with a
        number for ``sigma``), for results larger than memory; equal to the in-memory kernel where no
        sample needed rescaling (magnitudes in [2^-40, 2^40)), within its rounding otherwise.
        Missing tiles are an error unless ``allow_missing`` (then NaN)."""
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

        if kernel == "rbf" and isinstance(sigma, str):
            raise ValueError(f"a lazy rbf kernel needs a number for sigma: the {sigma!r} rule takes the "
                             f"median over all pairs at once (use lazy=False, or pass sigma=)")
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

        def block(values, block_info=None):
            (r0, r1), (c0, c1) = block_info[0]["array-location"]
            part = Grid(values, None, None, whole.sq_norms_x[r0:r1], whole.sq_norms_y[c0:c1], whole.exp_x[r0:r1],
                        whole.exp_y[c0:c1], whole.rounding, False)
            out = part.kernels([kernel], sigma)[kernel]
            if self.symmetric and kernel != "inner":
                # the diagonal is exact, as semantic_rsm has it: cosine 1 (0 for a zero sample), rbf 1
                start, stop = max(r0, c0), min(r1, c1)
                for i in range(start, stop):
                    out[i - r0, i - c0] = (1.0 if whole.sq_norms_x[i] > 0 else 0.0) if kernel == "cosine" else 1.0
            return out

        return objective.map_blocks(block, dtype=np.float64)
