"""The GPU path of :func:`semrsm.solve` and :func:`semrsm.linear_sum_assignment`: the CUDA engine
(cuda/engine/batch.cu, cuda/lap/) on CuPy arrays.

Work is enqueued on CuPy's current stream of the device holding the input; device pointers travel to
the engine as integers. Validation runs on the GPU (a few reductions); only a failure brings the
offending problem back to the host, to say where the bad entry is. Errors of the CUDA runtime
surface as RuntimeError carrying the CUDA error text.
"""

from __future__ import annotations

import numpy as np

from .. import _core
from .._checks import as_device_array, first_bad_index, format_index
from . import _cpu
from ._arrays import greedy_assignment
from ._result import Status, make_result, rows_to_columns

__all__ = ["linear_sum_assignment", "solve", "solve_device"]

#: Exact methods the GPU solves itself (cuda/lap/exact.cuh).
EXACT_METHODS = ("auto", "jv", "hybrid")
#: Methods the GPU solves itself: the exact ones, the auction (square problems; rectangular ones run
#: on the CPU engine with a copy each way) and the greedy rule (array steps on the device).
GPU_METHODS = EXACT_METHODS + ("auction", "greedy")


def _check_entries(cp, arr, maximize: bool, method: str, name: str, scipy_messages: bool) -> None:
    """The CPU engine's entry checks, as reductions on the device."""
    forbidden, invalid = (-np.inf, np.inf) if maximize else (np.inf, -np.inf)
    nan = cp.isnan(arr)
    wrong = arr == invalid
    bad_nan, bad_inf = bool(nan.any()), bool(wrong.any())
    if scipy_messages and (bad_nan or bad_inf):
        raise ValueError("matrix contains invalid numeric entries")
    if bad_nan:
        raise ValueError(f"{name}{format_index(first_bad_index(cp.asnumpy(nan)))} is NaN")
    if bad_inf:
        raise ValueError(f"{name}{format_index(first_bad_index(cp.asnumpy(wrong)))} is {invalid}, which is "
                         f"invalid when {'maximising' if maximize else 'minimising'} ({forbidden} marks a "
                         f"forbidden assignment)")
    if method not in EXACT_METHODS:
        blocked = arr == forbidden
        if bool(blocked.any()):
            raise ValueError(f"{name}{format_index(first_bad_index(cp.asnumpy(blocked)))} is {forbidden} "
                             f"(forbidden): forbidden assignments are supported by the exact methods 'jv' "
                             f"and 'hybrid' only, not {method!r}")


def solve_device(cp, costs, maximize: bool, method: str = "auto", eps: float = 0.0, check: bool = True):
    """Solve a validated (B, n, m) CuPy batch on the GPU (n > m on the transpose): exactly, by the
    auction (square only, to ``eps``, 0 for its default) or by the greedy rule. ``check=False`` skips
    the feasibility check (a host sync) for costs known to be finite. Returns col, objective, bound,
    u, v (u, v None for greedy)."""
    # Allocate on, and enqueue to the current stream of, the GPU that holds the data.
    with cp.cuda.Device(costs.device.id):
        n, m = costs.shape[1:]
        transposed = n > m
        work = cp.ascontiguousarray(costs.transpose(0, 2, 1)) if transposed else costs
        if method == "greedy":
            col, objective, bound = greedy_assignment(work, maximize, cp)
            u = v = None
        else:
            col, objective, bound, u, v = _solve_sap(cp, work, maximize, method == "auction", eps, check)
        if transposed:
            col, u, v = rows_to_columns(col, n, cp), v, u
        return col, objective, bound, u, v


def _solve_sap(cp, work, maximize: bool, auction_only: bool, eps: float, check: bool):
    """The GPU solver (cuda/engine/batch.cu) on a (B, n, m) batch with n <= m, on the current device: exact, or the auction
    alone to ``eps`` (0: its default)."""
    batch, rows, cols = work.shape
    col = cp.empty((batch, rows), dtype=cp.int32)
    objective = cp.empty(batch, dtype=cp.float64)
    bound = cp.empty(batch, dtype=cp.float64)
    u = cp.empty((batch, rows), dtype=cp.float64)
    v = cp.empty((batch, cols), dtype=cp.float64)
    status = cp.empty(batch, dtype=cp.int8)
    stream = cp.cuda.get_current_stream()
    _core.cuda_solve_batch(work.data.ptr, work.dtype == cp.float64, batch, rows, cols, bool(maximize),
                           bool(auction_only), float(eps), col.data.ptr, objective.data.ptr, bound.data.ptr, u.data.ptr, v.data.ptr,
                           status.data.ptr, work.device.id, stream.ptr)
    if check:
        failed = cp.flatnonzero(status != Status.ok)
        if failed.size:  # one device-to-host copy of a count; the normal path stays on the GPU
            b = int(failed[0])
            raise ValueError(f"cost matrix is infeasible (problem {b}): no complete assignment avoids its "
                             f"forbidden ({-np.inf if maximize else np.inf}) entries")
    return col, objective, bound, u, v


def _on_gpu(method: str, shape) -> bool:
    """Whether the GPU solves (n, m) problems by ``method`` itself."""
    n, m = shape
    if method == "greedy":
        return True
    if method == "auction" and n != m:
        return False
    return method in GPU_METHODS and max(n, m) <= _core.CUDA_MAX_COLUMNS


def _on_cpu(cp, arr, maximize, method, eps, threads, scipy_messages=False):
    """Methods and sizes the GPU does not take: the CPU engine, one copy each way."""
    host = np.ascontiguousarray(cp.asnumpy(arr))
    col, objective, bound, u, v = _cpu.solve_batch(host, maximize, method, eps, threads, name="costs",
                                                   batched=True, scipy_messages=scipy_messages)
    return tuple(None if a is None else cp.asarray(a) for a in (col, objective, bound, u, v))


def solve(cp, costs, maximize: bool, method: str, eps: float, threads: int):
    """:func:`semrsm.solve` on the CUDA engine, CuPy arrays in and out; ``eps`` 0 and ``threads`` 0
    ask for the defaults."""
    arr = as_device_array(cp, costs, "costs", (2, 3))
    if arr.size == 0:
        raise ValueError(f"costs is empty (shape {arr.shape})")
    _check_entries(cp, arr, maximize, method, "costs", scipy_messages=False)
    batched = arr.ndim == 3
    work = arr if batched else arr[None]
    if _on_gpu(method, work.shape[1:]):
        col, objective, bound, u, v = solve_device(cp, work, maximize, method, eps)
    else:
        col, objective, bound, u, v = _on_cpu(cp, work, maximize, method, eps, threads)
    return make_result(col, objective, bound, u, v, method, batched)


def linear_sum_assignment(cp, cost_matrix, maximize: bool, method: str):
    """:func:`semrsm.linear_sum_assignment` on the CUDA engine: ``(row_ind, col_ind)`` as CuPy intp
    arrays."""
    arr = as_device_array(cp, cost_matrix, "cost_matrix", (2,))
    if arr.size == 0:
        return cp.empty(0, dtype=cp.intp), cp.empty(0, dtype=cp.intp)
    _check_entries(cp, arr, maximize, method, "cost_matrix", scipy_messages=True)
    if _on_gpu(method, arr.shape):
        col = solve_device(cp, arr[None], maximize, method)[0][0]
    else:
        col = _on_cpu(cp, arr[None], maximize, method, 0.0, 1, scipy_messages=True)[0][0]
    row_ind = cp.flatnonzero(col >= 0)
    return row_ind.astype(cp.intp), col[row_ind].astype(cp.intp)
