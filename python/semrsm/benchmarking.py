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

    Each solver maps a cost matrix to the column of each row. Returns one row per solver with the
    median milliseconds per problem, the speed-up over ``baseline`` (its median over ours), and
    the largest relative excess of its objective over the baseline's (0 for exact solvers). A
    solver other than the baseline that raises gets a row with NaN figures and the error.
    """
    costs = np.asarray(problems, dtype=np.float64)
    rows_index = np.arange(costs.shape[1])
    reference = None
    results = []
    for name, solve in solvers.items():
        per_problem, objectives = [], []
        try:
            for cost, cost64 in zip(problems, costs):
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    cols = solve(cost)
                    times.append(time.perf_counter() - t0)
                per_problem.append(float(np.median(times)))
                objectives.append(float(cost64[rows_index, cols].sum()))
        except Exception as exc:  # a peer that fails on some input is reported, not fatal
            if name == baseline:
                raise
            results.append({"solver": f"{name} (failed: {exc})", "ms": np.nan,
                            "objectives": np.full(len(costs), np.nan)})
            continue
        objectives = np.array(objectives)
        if name == baseline:
            reference = (float(np.median(per_problem)), objectives)
        results.append({"solver": name, "ms": 1e3 * float(np.median(per_problem)), "objectives": objectives})
    if reference is None:
        raise ValueError(f"baseline {baseline!r} is not among the solvers")
    scale = np.abs(costs).sum(axis=(1, 2)) / costs.shape[1] + 1e-300
    for row in results:
        row["speedup"] = 1e3 * reference[0] / row["ms"]
        row["excess"] = float(np.max((row.pop("objectives") - reference[1]) / scale))
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
