"""The CPU path of :func:`semrsm.solve`: a checked (B, n, m) batch through the C++ engine (cpp/engine/batch.cpp)."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._checks import first_bad_index, format_index
from ._result import Status, rows_to_columns

__all__ = ["solve_batch"]


def raise_for_status(costs: np.ndarray, status: np.ndarray, maximize: bool, method: str, name: str,
                     batched: bool, scipy_messages: bool) -> None:
    """Turn the first failed problem's status into the error that says what was wrong and where."""
    if not np.count_nonzero(status):  # a third of status.any()'s time, on the path of every call
        return
    failed = np.flatnonzero(status != Status.ok)
    b = int(failed[0])
    code = int(status[b])
    problem = costs[b]
    prefix = (b,) if batched else ()
    forbidden, invalid = (-np.inf, np.inf) if maximize else (np.inf, -np.inf)
    if code == Status.infeasible:
        where = f" (problem {b})" if batched else ""
        raise ValueError(f"cost matrix is infeasible{where}: no complete assignment avoids its "
                         f"forbidden ({forbidden}) entries")
    if code in (Status.nan_cost, Status.invalid_infinity) and scipy_messages:
        raise ValueError("matrix contains invalid numeric entries")
    if code == Status.nan_cost:
        index = prefix + tuple(first_bad_index(np.isnan(problem)))
        raise ValueError(f"{name}{format_index(index)} is NaN")
    if code == Status.invalid_infinity:
        index = prefix + tuple(first_bad_index(problem == invalid))
        raise ValueError(f"{name}{format_index(index)} is {invalid}, which is invalid when "
                         f"{'maximising' if maximize else 'minimising'} ({forbidden} marks a forbidden "
                         f"assignment)")
    if code == Status.forbidden_unsupported:
        index = prefix + tuple(first_bad_index(problem == forbidden))
        raise ValueError(f"{name}{format_index(index)} is {forbidden} (forbidden): forbidden assignments "
                         f"are supported by the exact methods only ('auto', 'jv', 'hybrid'), not {method!r}")
    raise RuntimeError(f"the engine stopped problem {b} with status {code}")


def solve_batch(costs: np.ndarray, maximize: bool, method: str, eps: float, threads: int, *,
                name: str, batched: bool, scipy_messages: bool = False):
    """Solve a (B, n, m) batch; n > m is solved on the transpose. Entries are checked by the engine.
    Returns col (B, n; -1 for rows left unassigned), objective, bound, u, v."""
    n, m = costs.shape[1:]
    transposed = n > m
    work = np.ascontiguousarray(costs.transpose(0, 2, 1)) if transposed else costs
    col, objective, bound, u, v, status = _core.solve_batch(work, bool(maximize), method, eps, threads)
    raise_for_status(costs, status, maximize, method, name, batched, scipy_messages)
    if transposed:
        col, u, v = rows_to_columns(col, n, np), v, u
    return col, objective, bound, u, v
