"""The semantic RSM on the GPU: the array steps of ``_arrays`` on CuPy, with cost blocks by the pair
kernel (cuda/cost/pair_block.cu) and LAPs by the CUDA solver (cuda/engine/batch.cu)."""

from __future__ import annotations

import contextlib

from .. import _core
from .._backend import cupy_module, is_cupy_array
from .._checks import as_device_array
from ..lap._cuda import solve_device
from ._arrays import ArrayOps

__all__ = ["gpu_ops", "pair_cost_blocks"]


def gpu_ops(cp, device_id: int) -> ArrayOps:
    """The semantic matchers' array steps on GPU ``device_id``: float32 cost blocks by the pair
    kernel, read straight from the positions, float64 ones by cuBLAS on gathered operands; LAPs by
    cuda/engine/batch.cu without a feasibility sync (the blocks are finite); out-of-memory errors, caught
    where CuPy would hide them, shrink the chunk."""

    def blocks(positions, a, b):
        if positions.dtype == cp.float32:
            return _pair_blocks(cp, positions, cp.stack((a, b), axis=1))
        return cp.matmul(positions[a], positions[b].transpose(0, 2, 1))

    def solve_max(costs, method):
        return solve_device(cp, costs, True, method, check=False)[:3]

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
    xd = as_device_array(cp, x, "x", (3,)).astype(cp.float32, copy=False)
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
    """cuda/cost/pair_block.cu on checked operands: x C-contiguous float32 (N, S, C), pairs (P, 2)
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
