"""CuPy in, CuPy out: the dispatch to the CUDA engine (cuda/).

Work is enqueued on CuPy's current stream of the device holding the input; device pointers travel to
the engine as integers. Validation runs on the GPU (a few reductions); only a failure brings the
offending problem back to the host, to say where the bad entry is. Errors of the CUDA runtime
surface as RuntimeError carrying the CUDA error text.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Optional

import numpy as np

from . import _core
from ._validation import engine_dtype, first_bad_index, format_index, is_cupy_array

__all__ = ["wants_cuda", "cupy_module", "input_device", "semantic_ops", "solve", "linear_sum_assignment", "pair_cost_blocks",
           "MAX_COLUMNS"]

#: Widest problem the GPU solver takes (cuda/cuda_engine.h, kMaxSapColumns); wider ones are
#: solved by the CPU engine and copied back.
MAX_COLUMNS = 8192

#: Exact methods the GPU solves itself (cuda/lap/sap.cu).
EXACT_METHODS = ("auto", "jv", "hybrid")
#: Methods the GPU solves itself: the exact ones, the auction (square problems; rectangular ones run
#: on the CPU engine with a copy each way) and the greedy rule (array steps on the device).
GPU_METHODS = EXACT_METHODS + ("auction", "greedy")


def wants_cuda(x, device: Optional[str]) -> bool:
    """True when the call should run on the CUDA engine: CuPy input, or ``device="cuda"``."""
    if device is None:
        return is_cupy_array(x)
    if device == "cuda":
        return True
    if device == "cpu":
        return False
    raise ValueError(f"device must be 'cpu', 'cuda' or None (follow the input); got {device!r}")


def input_device(*arrays) -> Optional[int]:
    """The GPU holding the CuPy arrays among ``arrays`` (None when there are none: the current one);
    ValueError when they are on different GPUs."""
    devices = {a.device.id for a in arrays if is_cupy_array(a)}
    if len(devices) > 1:
        raise ValueError(f"the inputs are on different GPUs ({sorted(devices)}); copy them to one")
    return devices.pop() if devices else None


def cupy_module():
    """CuPy, after checking that this build and this machine can run the CUDA engine."""
    from ._backends import backends

    cuda = backends()["cuda"]
    if not cuda["available"]:
        raise RuntimeError(f"the CUDA engine is not available: {cuda['reason']}")
    if not hasattr(_core, "cuda_solve_batch"):
        raise RuntimeError("this semrsm build has no CUDA solver")
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(f"the CUDA engine needs CuPy (pip install cupy-cuda13x): {exc}") from None
    return cupy


def _as_device_array(cp, x, name: str, ndims: tuple):
    """A C-contiguous float32 (kept) or float64 (everything else real) CuPy array, or raise."""
    if is_cupy_array(x):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:
            raise TypeError(f"{name} could not be read as an array: {exc}") from None
    return cp.ascontiguousarray(cp.asarray(arr, dtype=engine_dtype(arr, name, ndims)))


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


def _solve_device(cp, costs, maximize: bool, method: str = "auto", eps: float = 0.0, check: bool = True):
    """Solve a validated (B, n, m) CuPy batch on the GPU (n > m on the transpose): exactly, by the
    auction (square only, to ``eps``, 0 for its default) or by the greedy rule. ``check=False`` skips
    the feasibility check (a host sync) for costs known to be finite. Returns col, objective, bound,
    u, v (u, v None for greedy)."""
    from ._semantic_arrays import greedy_assignment

    # Allocate on, and enqueue to the current stream of, the GPU that holds the data.
    with cp.cuda.Device(costs.device.id):
        batch, n, m = costs.shape
        transposed = n > m
        work = cp.ascontiguousarray(costs.transpose(0, 2, 1)) if transposed else costs
        rows, cols = work.shape[1], work.shape[2]
        if method == "greedy":
            col, objective, bound = greedy_assignment(work, maximize, cp)
            u = v = None
        else:
            col, objective, bound, u, v = _solve_sap(cp, work, maximize, method == "auction", eps, check)
        if transposed:
            row4col = col
            col = cp.full((batch, n), -1, dtype=cp.int32)
            col[cp.arange(batch)[:, None], row4col] = cp.arange(m, dtype=cp.int32)[None, :]
            u, v = v, u
        return col, objective, bound, u, v


def _solve_sap(cp, work, maximize: bool, auction_only: bool, eps: float, check: bool):
    """cuda/lap/sap.cu on a (B, n, m) batch with n <= m, on the current device: exact, or the auction
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
        failed = cp.flatnonzero(status != 0)
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
    return method in GPU_METHODS and max(n, m) <= MAX_COLUMNS


def _on_cpu(cp, arr, maximize, method, eps, threads):
    """Methods and sizes the GPU does not take: the CPU engine, one copy each way."""
    from . import lap

    result = lap.solve(cp.asnumpy(arr), maximize=maximize, method=method, eps=eps, threads=threads or None,
                       device="cpu")
    to = cp.asarray
    return (to(result.col), to(np.atleast_1d(result.objective)), to(np.atleast_1d(result.bound)),
            None if result.u is None else to(result.u), None if result.v is None else to(result.v))


def solve(costs, maximize: bool, method: str, eps: Optional[float], threads: Optional[int]):
    """:func:`semrsm.solve` on the CUDA engine; CuPy in, CuPy out (NumPy out for NumPy input)."""
    from .lap import make_result

    cp = cupy_module()
    arr = _as_device_array(cp, costs, "costs", (2, 3))
    if arr.size == 0:
        raise ValueError(f"costs is empty (shape {arr.shape})")
    _check_entries(cp, arr, maximize, method, "costs", scipy_messages=False)
    batched = arr.ndim == 3
    work = arr if batched else arr[None]
    if _on_gpu(method, work.shape[1:]):
        col, objective, bound, u, v = _solve_device(cp, work, maximize, method, eps or 0.0)
    else:
        col, objective, bound, u, v = _on_cpu(cp, work, maximize, method, eps, threads)
    result = make_result(col, objective, bound, u, v, method, batched)
    if is_cupy_array(costs):
        return result
    on_host = {field: cp.asnumpy(value) for field, value in vars(result).items() if is_cupy_array(value)}
    return dataclasses.replace(result, **on_host)


def linear_sum_assignment(cost_matrix, maximize: bool, method: str):
    """:func:`semrsm.linear_sum_assignment` on the CUDA engine: ``(row_ind, col_ind)`` as intp arrays,
    CuPy for CuPy input."""
    cp = cupy_module()
    arr = _as_device_array(cp, cost_matrix, "cost_matrix", (2,))
    if arr.size == 0:
        col_ind = row_ind = cp.empty(0, dtype=cp.intp)
    else:
        _check_entries(cp, arr, maximize, method, "cost_matrix", scipy_messages=True)
        if _on_gpu(method, arr.shape):
            col = _solve_device(cp, arr[None], maximize, method)[0][0]
        else:
            col = _on_cpu(cp, arr[None], maximize, method, None, None)[0][0]
        row_ind = cp.flatnonzero(col >= 0)
        col_ind = col[row_ind].astype(cp.intp)
        row_ind = row_ind.astype(cp.intp)
    if not is_cupy_array(cost_matrix):
        return cp.asnumpy(row_ind), cp.asnumpy(col_ind)
    return row_ind, col_ind


def semantic_ops(cp, device_id: int):
    """The semantic matchers' array steps (python/semrsm/_semantic_arrays.py) on GPU ``device_id``:
    float32 cost blocks by the pair kernel, read straight from the positions, float64 ones by cuBLAS
    on gathered operands; exact solves by cuda/lap/sap.cu without a feasibility sync (the blocks
    are finite); out-of-memory errors, caught where CuPy would hide them, shrink the chunk."""
    from ._semantic_arrays import ArrayOps

    def blocks(positions, a, b):
        if positions.dtype == cp.float32:
            return _pair_blocks(cp, positions, cp.stack((a, b), axis=1))
        return cp.matmul(positions[a], positions[b].transpose(0, 2, 1))

    def solve_max(costs):
        return _solve_device(cp, costs, True, check=False)[:3]

    def free_bytes():
        with cp.cuda.Device(device_id):
            return int(cp.cuda.runtime.memGetInfo()[0]) + int(cp.get_default_memory_pool().free_bytes())

    @contextlib.contextmanager
    def watched_allocations():
        # Every allocation of a chunk goes through here, so that a failure fails the chunk even
        # where CuPy would swallow it: thrust's sorts do, and then sort wrongly (cupy/cupy#9894).
        # Without the memory pool a failure is a CUDARuntimeError; it becomes a MemoryError too.
        allocate = cp.cuda.get_allocator()
        failed = []

        def malloc(size):
            try:
                return allocate(size)
            except cp.cuda.memory.OutOfMemoryError:
                failed.append(size)
                raise
            except cp.cuda.runtime.CUDARuntimeError as exc:
                if exc.status != cp.cuda.runtime.errorMemoryAllocation:
                    raise
                failed.append(size)
                raise MemoryError(f"cudaMalloc of {size} bytes failed") from exc

        with cp.cuda.using_allocator(malloc):
            yield
        if failed:
            raise MemoryError(f"an allocation of {failed[0]} bytes failed while a chunk was solved")

    def mark():
        event = cp.cuda.Event(block=True, disable_timing=True)  # block: wait asleep, not spinning
        event.record()
        return event

    return ArrayOps(xp=cp, blocks=blocks, solve_max=solve_max, gathers=lambda dtype: dtype != cp.float32,
                    out_of_memory=(MemoryError,), watch=watched_allocations,
                    release=cp.get_default_memory_pool().free_all_blocks, free_bytes=free_bytes, mark=mark,
                    wait=lambda event: event.synchronize())


def pair_cost_blocks(x, pairs, *, tf32: bool = False, out=None):
    """``out[p] = x[pairs[p, 0]] @ x[pairs[p, 1]].T`` on the GPU, read straight from ``x``.

    Parameters
    ----------
    x : cupy.ndarray, shape (N, S, C)
        float32 (other real types are converted), made C-contiguous if it is not.
    pairs : array_like of int, shape (P, 2)
        Sample indices in [0, N).
    tf32 : bool
        Multiply on the tensor cores with inputs rounded to TF32 (about 1e-3 relative error,
        measured in tests/test_cuda_cost.py) instead of float32 FMA.
    out : cupy.ndarray, shape (P, S, S) float32, optional
        Where to write; allocated when not given.

    Returns
    -------
    cupy.ndarray of float32, shape (P, S, S)
    """
    cp = cupy_module()
    xd = _as_device_array(cp, x, "x", (3,)).astype(cp.float32, copy=False)
    samples, s, c = xd.shape
    if xd.size == 0:
        raise ValueError(f"x is empty (shape {xd.shape})")
    pd = cp.asarray(pairs)
    if pd.ndim != 2 or pd.shape[1] != 2 or pd.dtype.kind not in "iu":
        raise ValueError(f"pairs must be an integer array of shape (P, 2); got {pd.dtype} {pd.shape}")
    if pd.size and (int(pd.min()) < 0 or int(pd.max()) >= samples):
        raise ValueError(f"pairs must index samples in [0, {samples}); got values in "
                         f"[{int(pd.min())}, {int(pd.max())}]")
    count = pd.shape[0]
    if out is not None and (not is_cupy_array(out) or out.shape != (count, s, s) or out.dtype != cp.float32
                            or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous float32 CuPy array of shape {(count, s, s)}")
    return _pair_blocks(cp, xd, pd, tf32, out)


def _pair_blocks(cp, x, pairs, tf32: bool = False, out=None):
    """cuda/cost/pair_blocks.cu on checked operands: x C-contiguous float32 (N, S, C), pairs (P, 2)
    integers in [0, N). No host sync."""
    samples, s, c = x.shape
    pairs = cp.ascontiguousarray(pairs, dtype=cp.int32)
    count = pairs.shape[0]
    if out is None:
        out = cp.empty((count, s, s), dtype=cp.float32)
    if count:
        _core.cuda_pair_blocks(x.data.ptr, samples, s, c, pairs.data.ptr, count, out.data.ptr, bool(tf32),
                               x.device.id, cp.cuda.get_current_stream().ptr)
    return out
