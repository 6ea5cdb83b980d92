"""Linear assignment: a drop-in for scipy's ``linear_sum_assignment`` and a batched solver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _core, _cuda
from ._validation import as_real_array, first_bad_index, format_index, positive_number

__all__ = ["LapResult", "METHODS", "solve", "linear_sum_assignment"]

#: Solvers of the engine. ``auto`` (the default), ``jv`` and ``hybrid`` are exact; ``auction`` is
#: exact to within its reported bound (n * eps); ``greedy`` is the heuristic of Wald et al. (2024).
METHODS = ("auto", "jv", "hybrid", "auction", "greedy")


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


def _check_threads(threads) -> int:
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
    return int(threads)


def _check_eps(eps) -> float:
    """The engine's eps: 0.0 asks for its default."""
    return positive_number(eps, "eps", allow_none=True) or 0.0


# Engine statuses (cpp/lap/common.h, LapStatus).
_OK, _INFEASIBLE, _CANCELLED, _NAN, _INVALID_INF, _FORBIDDEN_UNSUPPORTED = range(6)


def _raise_for_status(costs: np.ndarray, status: np.ndarray, maximize: bool, method: str, name: str,
                      batched: bool, scipy_messages: bool) -> None:
    """Turn the first failed problem's status into the error that says what was wrong and where."""
    if not status.any():
        return
    failed = np.flatnonzero(status != _OK)
    b = int(failed[0])
    code = int(status[b])
    problem = costs[b]
    prefix = (b,) if batched else ()
    forbidden, invalid = (-np.inf, np.inf) if maximize else (np.inf, -np.inf)
    if code == _INFEASIBLE:
        where = f" (problem {b})" if batched else ""
        raise ValueError(f"cost matrix is infeasible{where}: no complete assignment avoids its "
                         f"forbidden ({forbidden}) entries")
    if code in (_NAN, _INVALID_INF) and scipy_messages:
        raise ValueError("matrix contains invalid numeric entries")
    if code == _NAN:
        index = prefix + tuple(first_bad_index(np.isnan(problem)))
        raise ValueError(f"{name}{format_index(index)} is NaN")
    if code == _INVALID_INF:
        index = prefix + tuple(first_bad_index(problem == invalid))
        raise ValueError(f"{name}{format_index(index)} is {invalid}, which is invalid when "
                         f"{'maximising' if maximize else 'minimising'} ({forbidden} marks a forbidden "
                         f"assignment)")
    if code == _FORBIDDEN_UNSUPPORTED:
        index = prefix + tuple(first_bad_index(problem == forbidden))
        raise ValueError(f"{name}{format_index(index)} is {forbidden} (forbidden): forbidden assignments "
                         f"are supported by the exact methods only ('auto', 'jv', 'hybrid'), not {method!r}")
    raise RuntimeError(f"the engine stopped problem {b} with status {code}")


def _solve_checked(costs: np.ndarray, maximize: bool, method: str, eps: float, threads: int, *,
                   name: str, batched: bool, scipy_messages: bool = False):
    """Solve a (B, n, m) batch; n > m is solved on the transpose. Entries are checked by the engine."""
    batch, n, m = costs.shape
    transposed = n > m
    work = np.ascontiguousarray(costs.transpose(0, 2, 1)) if transposed else costs
    col, objective, bound, u, v, status = _core.solve_batch(work, bool(maximize), method, eps, threads)
    _raise_for_status(costs, status, maximize, method, name, batched, scipy_messages)
    if transposed:
        row4col = col
        col = np.full((batch, n), -1, dtype=np.int32)
        rows = np.arange(batch)[:, None]
        col[rows, row4col] = np.arange(m, dtype=np.int32)[None, :]
        u, v = v, u
    return col, objective, bound, u, v


def solve(costs, maximize: bool = False, method: str = "auto", eps: Optional[float] = None,
          threads: Optional[int] = None, device: Optional[str] = None) -> LapResult:
    """Solve one linear assignment problem or a batch of them.

    Parameters
    ----------
    costs : array_like, shape (n, m) or (B, n, m)
        Real costs; float32 is solved in float32, everything else in float64. ``+inf`` (``-inf``
        when maximising) forbids an assignment, with the exact methods only. When n > m every
        column is assigned and n - m rows stay unassigned (their ``col`` is -1).
    maximize : bool
        Maximise the total instead of minimising it.
    method : {"auto", "jv", "hybrid", "auction", "greedy"}
        ``auto``: exact; ``jv`` or ``hybrid`` per problem, by how much of the problem JV's column
        reduction solves (``hybrid`` wins by 5-10x on inner-product costs of ReLU features, ``jv`` on
        costs with independent entries). ``jv``: Jonker-Volgenant, exact. ``hybrid``:
        epsilon-scaling auction, then shortest augmenting paths from its prices, exact.
        ``auction``: epsilon-scaling auction, within n * eps of the optimum (exact on integer
        costs below 2^40 / m with the default eps).
        ``greedy``: the greedy matcher of Wald et al. (2024), with a bound on its distance to the
        optimum; with n > m it runs on the transpose, columns choosing rows.
    eps : float, optional
        Final epsilon of ``auction`` (default: below 1/m on integer costs, 1e-9 of the cost range
        per row otherwise), or where ``hybrid`` stops its auction.
    threads : int, optional
        Threads to solve a batch on, parallel over problems; default all cores. The result does
        not depend on it.
    device : {None, "cpu", "cuda"}
        Where to solve: None follows the input (CuPy arrays on the GPU, returning CuPy arrays);
        ``"cuda"`` also takes NumPy input (and returns NumPy). The GPU solves, on CuPy's current
        stream, the exact methods (shortest augmenting paths with the auction hand-over of
        ``hybrid`` where it pays, cuda/lap/sap.cu; ``eps`` is not used there), ``auction`` on
        square problems and ``greedy``; the rest runs on the CPU engine with a copy each way.

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
    if _cuda.wants_cuda(costs, device):
        return _cuda.solve(costs, maximize, method, _check_eps(eps) or None, _check_threads(threads) or None)
    arr = as_real_array(costs, "costs", ndims=(2, 3))
    batched = arr.ndim == 3
    col, objective, bound, u, v = _solve_checked(arr if batched else arr[None], maximize, method,
                                                 _check_eps(eps), _check_threads(threads), name="costs",
                                                 batched=batched)
    return make_result(col, objective, bound, u, v, method, batched)


def make_result(col, objective, bound, u, v, method: str, batched: bool) -> LapResult:
    """The result of a batch (NumPy or CuPy arrays alike), without its batch axis when the input had
    none; the gap from objective and bound, no potentials for greedy."""
    gap = abs(objective - bound)
    if method == "greedy":
        u = v = None
    if not batched:
        col, objective, bound, gap = col[0], float(objective[0]), float(bound[0]), float(gap[0])
        u = None if u is None else u[0]
        v = None if v is None else v[0]
    return LapResult(col=col, objective=objective, bound=bound, gap=gap, u=u, v=v, method=method)


def _with_scipy_errors(cost_matrix):
    """``cost_matrix`` as an array, refused with the messages scipy's linear_sum_assignment raises
    (their first words are scipy's own, so code that matches on them keeps working)."""
    if isinstance(cost_matrix, np.ndarray):
        arr = cost_matrix
    else:
        try:
            arr = np.asarray(cost_matrix)
        except Exception as exc:  # ragged lists and other non-array input
            raise TypeError(f"cost_matrix could not be read as an array: {exc}") from None
    if arr.ndim != 2:
        raise ValueError(f"expected a matrix (2-D array), got a {arr.ndim}-D array of shape {arr.shape}")
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"Cannot cast array data from {arr.dtype!r} to dtype('float64') according to the "
                        f"rule 'safe': cost_matrix must hold real numbers")
    return arr


def linear_sum_assignment(cost_matrix, maximize: bool = False, method: str = "auto",
                          device: Optional[str] = None):
    """Solve the linear sum assignment problem; a drop-in for ``scipy.optimize.linear_sum_assignment``.

    Parameters
    ----------
    cost_matrix : array_like, shape (n, m)
        The cost of assigning row i to column j. ``+inf`` (``-inf`` when maximising) forbids it.
    maximize : bool
        Find the maximum-weight assignment instead.
    method : {"auto", "jv", "hybrid", "auction", "greedy"}
        Solver (see :func:`solve`); the default is exact.
    device : {None, "cpu", "cuda"}
        Where to solve (see :func:`solve`); CuPy input gives CuPy output.

    Returns
    -------
    row_ind, col_ind : ndarray of intp
        ``cost_matrix[row_ind, col_ind].sum()`` is optimal; ``row_ind`` is sorted, and when the
        matrix is square it is ``arange(n)``. Both have ``min(n, m)`` entries.

    Raises
    ------
    ValueError
        "matrix contains invalid numeric entries" for NaN or the wrong infinity, "cost matrix is
        infeasible" when no assignment avoids the forbidden entries, "expected a matrix (2-D
        array)" for another ndim, as scipy raises.
    TypeError
        "Cannot cast array data ..." for complex, string or object input, as scipy raises.
    """
    method = _check_method(method)
    if _cuda.wants_cuda(cost_matrix, device):
        return _cuda.linear_sum_assignment(cost_matrix, maximize, method)
    arr = as_real_array(_with_scipy_errors(cost_matrix), "cost_matrix", ndims=(2,), allow_empty=True)
    if arr.size == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    col = _solve_checked(arr[None], maximize, method, 0.0, 1, name="cost_matrix", batched=False,
                         scipy_messages=True)[0][0]
    if arr.shape[0] <= arr.shape[1]:
        return np.arange(arr.shape[0]), col.astype(np.intp)
    rows = np.flatnonzero(col >= 0)
    return rows, col[rows].astype(np.intp)
