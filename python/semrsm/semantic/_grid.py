"""One solve of a grid of pairs, kept raw: the objectives (one number per pair) and the samples' norms
and powers of two, from which every kernel follows afterwards (DESIGN.md, "One number per pair").

:func:`semrsm.semantic_rsm` is one grid and its kernels; a tile of a large job (:mod:`semrsm.jobs`) is
one grid of (x[rows], y[cols]) on the same engine, written to a store, and its kernels are derived by
the same :meth:`Grid.kernels` once every tile is in, so both give the same numbers, bit for bit.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from .._floats import distance_rounding
from ..kernels import kernels_from_objective, unscale
from ._plan import Options, Samples
from ._run import Pairs, run_chunks

__all__ = ["Grid", "solve_grid"]


@dataclasses.dataclass
class Grid:
    """The raw results of a grid of pairs, at the scale ``Samples`` holds the samples (each multiplied
    by 2^exponent where its magnitude called for it).

    ``objective`` (N, M) and ``bound`` (N, M, or None) float64; ``sq_norms_x`` (N,), ``sq_norms_y``
    (M,) the squared Frobenius norms; ``exp_x``, ``exp_y`` the exponents; ``rounding`` the relative
    rounding of a squared distance (:func:`semrsm._floats.distance_rounding`); ``perm`` all
    permutations or None."""

    objective: object
    bound: Optional[object]
    perm: Optional[object]
    sq_norms_x: object
    sq_norms_y: object
    exp_x: object
    exp_y: object
    rounding: float
    symmetric: bool

    def kernels(self, kernels, sigma, overwrite: bool = False) -> dict:
        """Every kernel of ``kernels`` from the objectives and norms (:func:`kernels_from_objective`);
        ``overwrite``: the "inner" kernel may take the objective's memory."""
        return kernels_from_objective(self.objective, self.sq_norms_x, self.sq_norms_y, kernels,
                                      symmetric=self.symmetric, sigma=sigma, exponents=(self.exp_x, self.exp_y),
                                      rounding=self.rounding, overwrite=overwrite)

    def unscaled_bound(self):
        """The bound at the samples' own scale, in place (None without one)."""
        return None if self.bound is None else unscale(self.bound, (self.exp_x, self.exp_y), "the bound")


def solve_grid(samples: Samples, options: Options, engine, solve=None, chunk=None) -> Grid:
    """Every pair of ``samples`` (i < j when symmetric, the diagonal exact) solved on ``engine`` into a
    :class:`Grid`; ``solve, chunk`` from ``engine.prepare`` when the caller already has them."""
    xp = engine.xp
    n, m, S, C = samples.shape
    if solve is None:
        solve, chunk = engine.prepare(samples, options)
    objective = xp.empty((n, m), dtype=xp.float64)
    bound = xp.empty((n, m), dtype=xp.float64) if options.return_bound else None
    perm = xp.empty((n, m, S), dtype=xp.int32) if options.all_perms else None
    if samples.symmetric:
        diagonal = xp.arange(n)
        objective[diagonal, diagonal] = samples.frob_x
        if bound is not None:
            bound[diagonal, diagonal] = samples.frob_x
        if perm is not None:
            perm[diagonal, diagonal] = xp.arange(S, dtype=xp.int32)
    run_chunks(Pairs(n, m, samples.symmetric), chunk, options.progress, solve, options.matcher, objective,
               bound, perm, engine)
    rounding = distance_rounding(S * C, engine.objective_error(S, C, samples.xs.dtype))
    return Grid(objective, bound, perm, samples.frob_x, samples.frob_y, samples.exp_x, samples.exp_y, rounding,
                samples.symmetric)
