"""Adapters: each solver behind one signature, (B, n, m) torch costs -> (B, n) int64 columns,
minimising, and the checks of what they return.

torch-linear-assignment 0.1.0 (module ``torch_linear_assignment``): ``batch_linear_assignment(cost)``
takes (B, W, T) costs and *minimises*; it returns the column of every row as (B, W) int64 (-1 for a
row left unassigned when W > T). float32 and float64 are solved as given, other dtypes are
promoted to float32; NaN and -inf raise. Its CUDA path is Triton and needs compute capability
>= 8.0, Torch >= 2.4 and Triton; otherwise it falls back to SciPy on the CPU, which the adapter
refuses to time on CUDA input. Its 0.0.x CUDA kernel (one thread per problem, W <= T) is called as
0.0.6 called it. torch-lap-cuda 0.0.3 (module ``torch_lap_cuda``): ``solve_lap(cost)`` takes
(B, N, N) CUDA costs, *square only*, and *minimises*. semrsm runs on the same memory through
DLPack (CuPy on the GPU, NumPy for CPU tensors).

Importing this module needs neither torch nor CuPy; they are imported where used.
"""

from __future__ import annotations

import importlib.util

import numpy as np

import semrsm

#: Solver name -> (label in the table, distribution it comes from). Table columns in this order.
SOLVERS = {
    "semrsm": ("semrsm.solve", "semrsm"),
    "tla-triton": ("torch-linear-assignment (Triton)", "torch-linear-assignment"),
    "tla-cuda": ("torch-linear-assignment 0.0.x CUDA kernel", "torch-linear-assignment"),
    "torch-lap-cuda": ("torch-lap-cuda (HyLAC)", "torch-lap-cuda"),
}

#: Relative tolerance within which a peer's objective counts as equal to semrsm's.
RTOL = 1e-5


def _check_costs(costs, need_cuda=True):
    import torch

    if not isinstance(costs, torch.Tensor):
        raise TypeError(f"costs must be a torch.Tensor, got {type(costs).__name__}")
    if costs.ndim != 3:
        raise ValueError(f"costs must be (B, n, m), got shape {tuple(costs.shape)}")
    if costs.shape[1] > costs.shape[2]:
        raise ValueError(f"costs must have n <= m, got shape {tuple(costs.shape)}")
    if costs.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"costs must be float32 or float64, got {costs.dtype}")
    if need_cuda and not costs.is_cuda:
        raise ValueError("costs must be on a CUDA device")


def _semrsm_prepare(costs):
    _check_costs(costs, need_cuda=False)
    if not costs.is_cuda:
        return costs.numpy()  # the CPU engine (plumbing check)
    import cupy

    return cupy.from_dlpack(costs)


def _semrsm_run(costs_cp):
    return semrsm.solve(costs_cp)


def _semrsm_finish(result):
    import torch

    return torch.from_dlpack(result.col).to(torch.int64)


def solve_semrsm(costs):
    """semrsm.solve on the same memory (CuPy through DLPack; NumPy for CPU tensors): (B, n) int64
    columns."""
    return _semrsm_finish(_semrsm_run(_semrsm_prepare(costs)))


def _tla_triton_prepare(costs):
    _check_costs(costs, need_cuda=False)
    from torch_linear_assignment import assignment

    if costs.is_cuda and not assignment._cuda_uses_triton(costs):
        raise RuntimeError("torch-linear-assignment would not use Triton here (it needs compute capability >= 8.0, "
                           "Torch >= 2.4 and triton) and would solve on the CPU with SciPy")
    return costs


def _tla_triton_run(costs):
    from torch_linear_assignment import batch_linear_assignment

    return batch_linear_assignment(costs)


def solve_torch_linear_assignment(costs):
    """torch_linear_assignment.batch_linear_assignment (Triton on CUDA; SciPy for CPU tensors):
    (B, n) int64 columns. Raises rather than let a CUDA input fall back to SciPy."""
    return _tla_triton_run(_tla_triton_prepare(costs))


def _tla_cuda_prepare(costs):
    _check_costs(costs)
    if importlib.util.find_spec("torch_linear_assignment._backend") is None:
        raise RuntimeError("torch-linear-assignment was built without its 0.0.x CUDA kernel "
                           "(TLA_BUILD_LEGACY_CUDA=1)")
    return costs.contiguous()


def _tla_cuda_run(costs):
    from torch_linear_assignment import assignment

    return assignment._batch_linear_assignment_cuda_legacy(costs)


def solve_torch_linear_assignment_legacy(costs):
    """torch-linear-assignment's 0.0.x CUDA kernel (one thread per problem), as 0.0.6 calls it:
    (B, n) int64 columns."""
    return _tla_cuda_run(_tla_cuda_prepare(costs))


def _lap_cuda_prepare(costs):
    _check_costs(costs)
    if costs.shape[1] != costs.shape[2]:
        raise ValueError(f"torch-lap-cuda solves square problems only, got shape {tuple(costs.shape)}")
    return costs


def _lap_cuda_run(costs):
    from torch_lap_cuda import solve_lap

    return solve_lap(costs)


def solve_torch_lap_cuda(costs):
    """torch_lap_cuda.solve_lap (square problems only): (B, n) int64 columns."""
    return _lap_cuda_run(_lap_cuda_prepare(costs))


def _identity(x):
    return x


#: Solver name -> (prepare, timed call, finish): the timing covers the call only.
PIPELINES = {
    "semrsm": (_semrsm_prepare, _semrsm_run, _semrsm_finish),
    "tla-triton": (_tla_triton_prepare, _tla_triton_run, _identity),
    "tla-cuda": (_tla_cuda_prepare, _tla_cuda_run, _identity),
    "torch-lap-cuda": (_lap_cuda_prepare, _lap_cuda_run, _identity),
}


def objectives(costs, col):
    """Per-problem float64 objective of columns ``col`` (B, n) on ``costs`` (B, n, m), and a (B,)
    bool mask of the problems where ``col`` is a valid assignment (in range, no column twice)."""
    import torch

    col = col.to(device=costs.device, dtype=torch.int64)
    m = costs.shape[2]
    in_range = ((col >= 0) & (col < m)).all(dim=1)
    safe = col.clamp(0, m - 1)
    ordered = safe.sort(dim=1).values
    distinct = (ordered[:, 1:] != ordered[:, :-1]).all(dim=1) if col.shape[1] > 1 else torch.ones_like(in_range)
    obj = torch.gather(costs, 2, safe.unsqueeze(2)).squeeze(2).to(torch.float64).sum(dim=1)
    return obj, in_range & distinct


def compare(obj, valid, ref, rtol=RTOL):
    """Compare objectives with the reference: counts of problems worse / better than it beyond
    ``rtol`` (relative to |ref|, floor 1e-12), invalid assignments, and the largest relative gap."""
    obj, ref, valid = np.asarray(obj, np.float64), np.asarray(ref, np.float64), np.asarray(valid, bool)
    scale = np.maximum(np.abs(ref), 1e-12)
    rel = (obj - ref) / scale
    rel_valid = np.where(valid, rel, 0.0)
    return {"problems": int(obj.size), "invalid": int((~valid).sum()),
            "worse": int(((rel > rtol) & valid).sum()), "better": int(((rel < -rtol) & valid).sum()),
            "max_rel_gap": float(np.abs(rel_valid).max()) if obj.size else 0.0}
