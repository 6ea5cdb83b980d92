"""Linear assignment: a drop-in for scipy's ``linear_sum_assignment`` and a batched solver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _core
from ._validation import as_real_array, first_bad_index, format_index

__all__ = ["LapResult", "METHODS", "solve", "linear_sum_assignment"]

#: Solvers of the engine. ``jv`` and ``hybrid`` are exact; ``auction`` is exact to within its
#: reported bound (n * eps); ``greedy`` is the heuristic of Wald et al. (2024).
METHODS = ("jv", "hybrid", "auction", "greedy")
_EXACT = ("jv", "hybrid")


@dataclass(frozen=True)
class LapResult:
    """Result of :func:`solve`; every field has a leading batch axis when the input had one.

    Attributes
    ----------
    col : ndarray of int32, shape (n,) or (B, n)
        Column assigned to each row; -1 for rows left unassigned when n > m.
    objective : float or ndarray of float64, shape (B,)
        Sum of the assigned costs, accumulated in float64.
    bound : float or ndarray of float64
        A certificate: no assignment is better than this (a lower bound on the minimum, an upper
        bound on the maximum). From the dual potentials for ``jv``, ``hybrid`` and ``auction``; from
        row and column extremes for ``greedy``.
    gap : float or ndarray of float64
        ``|objective - bound|``: how far from optimal the assignment can be (about 0 for exact
        methods, at most n * eps for ``auction``).
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


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(map(repr, METHODS))}")
    return method


def _check_entries(costs: np.ndarray, maximize: bool, method: str, name: str) -> None:
    """NaN is never allowed; the infinity that means 'forbidden' only with exact methods."""
    bad = first_bad_index(np.isnan(costs))
    if bad is not None:
        raise ValueError(f"{name}{format_index(bad)} is NaN")
    forbidden, invalid = (-np.inf, np.inf) if maximize else (np.inf, -np.inf)
    bad = first_bad_index(costs == invalid)
    if bad is not None:
        raise ValueError(f"{name}{format_index(bad)} is {invalid}, which is invalid when "
                         f"{'maximising' if maximize else 'minimising'} "
                         f"({forbidden} marks a forbidden assignment)")
    if method not in _EXACT and np.isinf(costs).any():
        bad = first_bad_index(np.isinf(costs))
        raise ValueError(f"{name}{format_index(bad)} is infinite: forbidden assignments are supported "
                         f"by the exact methods 'jv' and 'hybrid' only, not {method!r}")


def _check_threads(threads) -> int:
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
    return int(threads)


def _check_eps(eps) -> float:
    if eps is None:
        return 0.0
    eps = float(eps)
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a positive finite number or None; got {eps!r}")
    return eps


def _solve_checked(costs: np.ndarray, maximize: bool, method: str, eps: float, threads: int):
    """Solve a validated (B, n, m) batch; n > m is solved on the transpose."""
    batch, n, m = costs.shape
    transposed = n > m
    work = np.ascontiguousarray(costs.transpose(0, 2, 1)) if transposed else costs
    col, objective, bound, u, v, status = _core.solve_batch(work, bool(maximize), method, eps, threads)
    failed = np.flatnonzero(status != 0)
    if failed.size:
        raise ValueError(f"cost matrix is infeasible (problem {int(failed[0])} has no assignment "
                         f"avoiding its forbidden entries)")
    if transposed:
        row4col = col
        col = np.full((batch, n), -1, dtype=np.int32)
        rows = np.arange(batch)[:, None]
        col[rows, row4col] = np.arange(m, dtype=np.int32)[None, :]
        u, v = v, u
    return col, objective, bound, u, v


def solve(costs, maximize: bool = False, method: str = "jv", eps: Optional[float] = None,
          threads: Optional[int] = None) -> LapResult:
    """Solve one linear assignment problem or a batch of them.

    Parameters
    ----------
    costs : array_like, shape (n, m) or (B, n, m)
        Real costs; float32 is solved in float32, everything else in float64. ``+inf`` (``-inf``
        when maximising) forbids an assignment, with the exact methods only. When n > m every
        column is assigned and n - m rows stay unassigned (their ``col`` is -1).
    maximize : bool
        Maximise the total instead of minimising it.
    method : {"jv", "hybrid", "auction", "greedy"}
        ``jv``: Jonker-Volgenant, exact. ``hybrid``: epsilon-scaling auction then shortest
        augmenting paths from its prices, exact. ``auction``: epsilon-scaling auction, within
        n * eps of the optimum (exact on integer costs with the default eps). ``greedy``: the greedy
        matcher of Wald et al. (2024), with a bound on its distance to the optimum.
    eps : float, optional
        Final epsilon of ``auction`` (default: below 1/m on integer costs, 1e-9 of the cost range
        per row otherwise), or where ``hybrid`` stops its auction.
    threads : int, optional
        Threads to solve a batch on, parallel over problems; default all cores. The result does
        not depend on it.

    Returns
    -------
    LapResult
        ``col``, ``objective``, ``bound``, ``gap``, ``u``, ``v``; batched when ``costs`` was 3-D.

    Raises
    ------
    ValueError
        On NaN (naming the problem and position), empty input, invalid infinities, an infeasible
        problem, or an unknown method.
    TypeError
        On complex or non-numeric input.
    """
    method = _check_method(method)
    arr = as_real_array(costs, "costs", ndims=(2, 3))
    _check_entries(arr, maximize, method, "costs")
    batched = arr.ndim == 3
    col, objective, bound, u, v = _solve_checked(arr if batched else arr[None], maximize, method,
                                                 _check_eps(eps), _check_threads(threads))
    gap = np.abs(objective - bound)
    if method == "greedy":
        u = v = None
    if not batched:
        col, objective, bound, gap = col[0], float(objective[0]), float(bound[0]), float(gap[0])
        u = None if u is None else u[0]
        v = None if v is None else v[0]
    return LapResult(col=col, objective=objective, bound=bound, gap=gap, u=u, v=v, method=method)


def linear_sum_assignment(cost_matrix, maximize: bool = False, method: str = "jv"):
    """Solve the linear sum assignment problem; a drop-in for ``scipy.optimize.linear_sum_assignment``.

    Parameters
    ----------
    cost_matrix : array_like, shape (n, m)
        The cost of assigning row i to column j. ``+inf`` (``-inf`` when maximising) forbids it.
    maximize : bool
        Find the maximum-weight assignment instead.
    method : {"jv", "hybrid", "auction", "greedy"}
        Solver (see :func:`solve`); the default is exact.

    Returns
    -------
    row_ind, col_ind : ndarray of intp
        ``cost_matrix[row_ind, col_ind].sum()`` is optimal; ``row_ind`` is sorted, and when the
        matrix is square it is ``arange(n)``. Both have ``min(n, m)`` entries.

    Raises
    ------
    ValueError
        "matrix contains invalid numeric entries" for NaN or the wrong infinity, "cost matrix is
        infeasible" when no assignment avoids the forbidden entries, as scipy raises.
    """
    method = _check_method(method)
    arr = as_real_array(cost_matrix, "cost_matrix", ndims=(2,), allow_empty=True)
    if arr.size == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    if np.isnan(arr).any() or (arr == (np.inf if maximize else -np.inf)).any():
        raise ValueError("matrix contains invalid numeric entries")
    _check_entries(arr, maximize, method, "cost_matrix")
    col = _solve_checked(arr[None], maximize, method, 0.0, 1)[0][0]
    rows = np.flatnonzero(col >= 0)
    return rows.astype(np.intp), col[rows].astype(np.intp)
