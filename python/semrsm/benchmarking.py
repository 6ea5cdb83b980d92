"""Side-by-side timing of LAP solvers on the same problems: medians, ratios against a baseline
measured in the same run, and a check of every objective against the baseline's."""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Sequence

import numpy as np

__all__ = ["median_seconds", "compare_solvers", "format_table"]


def median_seconds(call: Callable[[], object], repeats: int = 5, min_seconds: float = 0.0) -> float:
    """Median wall time of ``call()`` over ``repeats`` runs (more while under ``min_seconds`` total)."""
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
        if len(times) >= 1000:
            break
    return float(np.median(times))


def compare_solvers(solvers: Dict[str, Callable[[np.ndarray], np.ndarray]], problems: np.ndarray,
                    baseline: str = "scipy", repeats: int = 3) -> List[dict]:
    """Time each solver on every problem (square minimisation, float32 or float64).

    Each solver maps a cost matrix to the column of each row. The calls are made in ``repeats``
    rounds; in a round every solver passes once over all problems (the solvers in a rotating
    order), so no solver ever solves the same problem twice in a row. Solving one problem
    back to back lets the CPU's branch predictors learn that problem's path through the code:
    at n = 49 scipy's median fell from 50 to 32 us over 8 consecutive calls on the same matrix
    and ours from 22 to 17 us, which no user's loop over distinct problems sees (bench/RESULTS.md).

    Returns one row per solver with the median milliseconds per call, the speed-up over
    ``baseline`` (its median over ours), and the largest relative excess of its objective over
    the baseline's (0 for exact solvers). A solver other than the baseline that raises gets a row
    with NaN figures and the error.
    """
    if baseline not in solvers:
        raise ValueError(f"baseline {baseline!r} is not among the solvers")
    costs = np.asarray(problems, dtype=np.float64)
    rows_index = np.arange(costs.shape[1])
    names = list(solvers)
    times = {name: [] for name in names}
    objectives = {name: np.empty(len(costs)) for name in names}
    failed = {}
    for round_ in range(max(int(repeats), 1)):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            if name in failed:
                continue
            try:
                for k, cost in enumerate(problems):
                    t0 = time.perf_counter()
                    cols = solvers[name](cost)
                    times[name].append(time.perf_counter() - t0)
                    objectives[name][k] = costs[k][rows_index, cols].sum()
            except Exception as exc:  # a peer that fails on some input is reported, not fatal
                if name == baseline:
                    raise
                failed[name] = exc
    reference_ms = 1e3 * float(np.median(times[baseline]))
    scale = np.abs(costs).sum(axis=(1, 2)) / costs.shape[1] + 1e-300
    results = []
    for name in names:
        if name in failed:
            results.append({"solver": f"{name} (failed: {failed[name]})", "ms": np.nan, "speedup": np.nan,
                            "excess": np.nan})
            continue
        ms = 1e3 * float(np.median(times[name]))
        results.append({"solver": name, "ms": ms, "speedup": reference_ms / ms,
                        "excess": float(np.max((objectives[name] - objectives[baseline]) / scale))})
    return results


def format_table(rows: Sequence[dict], columns: Sequence[tuple]) -> str:
    """Plain-text table; ``columns`` is a sequence of (key, header, format)."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        cells.append([format(row[key], fmt) if fmt else str(row[key]) for key, _, fmt in columns])
    widths = [max(len(r[k]) for r in cells) for k in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
