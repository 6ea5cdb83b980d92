"""The result of a batch of solves, for the CPU and the GPU paths alike, and the engine's statuses."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import _core

__all__ = ["LapResult", "Status", "make_result", "rows_to_columns"]

#: Per-problem statuses of both engines, by the names cpp/lap/status.h gives them.
Status = enum.IntEnum("Status", dict(_core.LAP_STATUS))


@dataclass(frozen=True)
class LapResult:
    """Result of :func:`semrsm.solve`; every field has a leading batch axis when the input had one.

    Attributes
    ----------
    col : ndarray of int32, shape (n,) or (B, n)
        Column assigned to each row; -1 for rows left unassigned when n > m.
    objective : float or ndarray of float64, shape (B,)
        Sum of the assigned costs as given, accumulated in long double (64-bit significand on
        x86-64) and rounded to float64 once: finite wherever that sum is.
    bound : float or ndarray of float64
        A certificate: no assignment is better than this (a lower bound on the minimum, an upper
        bound on the maximum). From the dual potentials for ``jv``, ``hybrid`` and ``auction``; from
        row and column extremes for ``greedy``. On the CPU it bounds the exact optimum with no
        rounding allowed: the float64 sum of the n + m dual terms is moved away from the optimum by
        its worst-case rounding, gamma_(n+m+2) times the sum of their magnitudes (gamma_k = k u /
        (1 - k u), u = 2^-53), and rounded outwards once more; so for an exact method
        ``bound <= objective`` (``>=`` when maximising) and ``gap`` is at most about
        (n + m) 2^-53 times the magnitudes of the potentials. -inf (+inf) where that sum overflows.
        On the GPU the sum is not moved, and may pass the optimum by that rounding.
    gap : float or ndarray of float64
        ``|objective - bound|``: how far from optimal the assignment can be (that rounding for
        exact methods, at most n * eps more for ``auction``); 0 where both are the same infinity.
    u, v : ndarray of float64 or None
        Dual potentials of rows (n) and columns (m): ``u[i] + v[j] <= cost[i, j]`` for every pair
        when minimising (``>=`` when maximising), with equality on assigned pairs for the exact
        methods. None for ``greedy``.
    method : str
        The solver that produced the result.
    """

    col: np.ndarray
    objective: np.ndarray
    bound: np.ndarray
    gap: np.ndarray
    u: Optional[np.ndarray]
    v: Optional[np.ndarray]
    method: str


def make_result(col, objective, bound, u, v, method: str, batched: bool) -> LapResult:
    """The result of a batch (NumPy or CuPy arrays alike), without its batch axis when the input had
    none; the gap from objective and bound, no potentials for greedy."""
    with np.errstate(invalid="ignore"):  # both -inf (+inf): a total beyond float64, reached: gap 0
        gap = abs(objective - bound)
    gap[objective == bound] = 0.0
    if method == "greedy":
        u = v = None
    if not batched:
        col, objective, bound, gap = col[0], float(objective[0]), float(bound[0]), float(gap[0])
        u = None if u is None else u[0]
        v = None if v is None else v[0]
    return LapResult(col=col, objective=objective, bound=bound, gap=gap, u=u, v=v, method=method)


def rows_to_columns(row4col, n: int, xp):
    """The assignment of a transposed (B, m, n) batch, ``row4col``, as the column of each of the n
    rows of the original problems: -1 for the n - m rows left unassigned."""
    batch, m = row4col.shape
    col = xp.full((batch, n), -1, dtype=xp.int32)
    col[xp.arange(batch)[:, None], row4col] = xp.arange(m, dtype=xp.int32)[None, :]
    return col
