"""Linear assignment: a drop-in for scipy's ``linear_sum_assignment`` and a batched solver.

The public functions check their input, ask :func:`semrsm._backend.resolve` where to run, and hand
the batch to the CPU engine (``_cpu``, cpp/engine/batch.cpp) or the CUDA engine (``_cuda``, cuda/lap/).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from .._backend import resolve
from .._checks import as_real_array, check_choice, check_threads, positive_number
from . import _cpu, _cuda
from ._result import LapResult, make_result

__all__ = ["LapResult", "METHODS", "solve", "linear_sum_assignment"]

#: Solvers of the engine (cpp/engine/batch.h). ``auto`` (the default), ``jv`` and ``hybrid`` are exact;
#: ``auction`` is exact to within its reported bound (n * eps); ``greedy`` is the heuristic of Wald
#: et al. (2024).
METHODS = tuple(_core.LAP_METHODS)


def _check_eps(eps) -> float:
    """The engine's eps: 0.0 asks for its default."""
    return positive_number(eps, "eps", allow_none=True) or 0.0


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
        Threads to solve a batch on, parallel over problems; default all cores, at most 4 per core.
        The result does not depend on it.
    device : {None, "cpu", "cuda"}
        Where to solve: None follows the input (CuPy arrays on the GPU, returning CuPy arrays);
        ``"cuda"`` also takes NumPy input (and returns NumPy). The GPU solves, on CuPy's current
        stream, the exact methods (shortest augmenting paths with the auction hand-over of
        ``hybrid`` where it pays, cuda/lap/exact.cuh; ``eps`` is not used there), ``auction`` on
        square problems and ``greedy``; the rest runs on the CPU engine with a copy each way.

    Returns
    -------
    LapResult
        ``col``, ``objective``, ``bound``, ``gap``, ``u``, ``v``; batched when ``costs`` was 3-D.

    Notes
    -----
    Every finite input is solved. The CPU engine multiplies a problem whose largest finite |cost|
    lies above 2^1000 or below 2^-960 by a power of two (exact: the optimal assignment is unchanged,
    barring costs more than 2^1022 below the largest) and scales potentials and bound back; then no
    difference of costs or potentials overflows, and the auction's eps, derived from the costs'
    range and magnitude, is a normal number. Where a nonzero |cost| lies below 2^-40 of the
    largest, the exact methods run shortest augmenting paths from zero potentials (as scipy does):
    neither JV's column reduction nor the auction's prices could resolve such costs. Exact means
    optimal up to the float64 rounding of the potentials: where the costs span more than 2^52, two
    assignments whose exact totals differ by less than about 2^-52 of the largest |cost| (and whose
    float64 totals are then the same number) may be returned one for the other.

    Raises
    ------
    ValueError
        On NaN (naming the problem and position), empty input, invalid infinities, an infeasible
        problem, an unknown method, too many threads, or longdouble values beyond float64.
    TypeError
        On complex or non-numeric input.
    """
    method = check_choice(method, "method", METHODS)
    eps, threads = _check_eps(eps), check_threads(threads)
    backend = resolve(costs, device=device)
    if backend.gpu:
        with backend.on_device():
            return backend.output(_cuda.solve(backend.xp, costs, maximize, method, eps, threads))
    arr = as_real_array(costs, "costs", ndims=(2, 3))
    batched = arr.ndim == 3
    col, objective, bound, u, v = _cpu.solve_batch(arr if batched else arr[None], maximize, method, eps,
                                                   threads, name="costs", batched=batched)
    return make_result(col, objective, bound, u, v, method, batched)


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
    method = check_choice(method, "method", METHODS)
    backend = resolve(cost_matrix, device=device)
    if backend.gpu:
        with backend.on_device():
            return backend.output(_cuda.linear_sum_assignment(backend.xp, cost_matrix, maximize, method))
    arr = as_real_array(_with_scipy_errors(cost_matrix), "cost_matrix", ndims=(2,), allow_empty=True)
    if arr.size == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty.copy()
    col = _cpu.solve_batch(arr[None], maximize, method, 0.0, 1, name="cost_matrix", batched=False,
                           scipy_messages=True)[0][0]
    if arr.shape[0] <= arr.shape[1]:
        return np.arange(arr.shape[0]), col.astype(np.intp)
    rows = np.flatnonzero(col >= 0)
    return rows, col[rows].astype(np.intp)
