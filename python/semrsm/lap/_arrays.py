"""LAP solvers as whole-array steps of one array module (NumPy or CuPy): the GPU's greedy rule.

The same functions run on NumPy arrays in the tests, where they are checked against the C++ engine
(cpp/lap/greedy.h), so the tie rules that the GPU runs are the ones CI tests.
"""

from __future__ import annotations

import numpy as np

__all__ = ["greedy_assignment", "stable_argsort"]


def stable_argsort(keys, xp):
    """Indices that sort ``keys`` along the last axis, equal keys in index order (CuPy's sort is
    always stable and takes no ``kind``)."""
    return np.argsort(keys, axis=-1, kind="stable") if xp is np else xp.argsort(keys, axis=-1)


def greedy_assignment(costs, maximize: bool, xp):
    """The greedy rule of cpp/lap/greedy.h on a batch (B, n, m), n <= m, as array steps.

    Rows are visited in order of their best entry (ties: lower row first), and each takes its best
    column still free (ties: lower column): the same assignment as the C++ engine, tie for tie. One
    step per row, each over the whole batch.

    Returns
    -------
    col : int32 (B, n)
    objective : float64 (B,)
        Sum of the assigned entries.
    bound : float64 (B,)
        The row/column bound of cpp/lap/greedy.h: the sum of the row optima or of the n best column
        optima, whichever is tighter (no assignment does better).
    """
    batch, n, m = costs.shape
    row_best = costs.max(axis=2) if maximize else costs.min(axis=2)
    # Minimisation keys, as the C++ engine sorts them: negating is exact.
    order = stable_argsort(-row_best if maximize else row_best, xp)
    pick = xp.argmax if maximize else xp.argmin
    blocked = -np.inf if maximize else np.inf
    taken = xp.zeros((batch, m), dtype=bool)
    col = xp.empty((batch, n), dtype=xp.int32)
    problems = xp.arange(batch)
    for step in range(n):
        rows = order[:, step]
        choice = pick(xp.where(taken, blocked, costs[problems, rows]), axis=1)
        taken[problems, choice] = True
        col[problems, rows] = choice
    objective = xp.take_along_axis(costs, col[:, :, None].astype(xp.intp), axis=2)[..., 0]
    objective = objective.sum(axis=1, dtype=xp.float64)
    col_best = costs.max(axis=1) if maximize else costs.min(axis=1)
    if n < m:
        col_best = xp.sort(col_best, axis=1)
        col_best = col_best[:, m - n:] if maximize else col_best[:, :n]
    rows_total = row_best.sum(axis=1, dtype=xp.float64)
    cols_total = col_best.sum(axis=1, dtype=xp.float64)
    bound = xp.minimum(rows_total, cols_total) if maximize else xp.maximum(rows_total, cols_total)
    return col, objective, bound
