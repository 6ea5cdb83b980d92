"""Problem generators and peer solvers for the LAP benchmarks, each peer behind one signature:
``solve(cost) -> column of each row`` for a square minimisation problem."""

from __future__ import annotations

import importlib
import importlib.metadata

import numpy as np
from scipy.optimize import linear_sum_assignment

import semrsm
from semrsm.datasets import semantic_costs


def problems(kind: str, n: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` float32 n x n minimisation problems: 'uniform', 'normal' or 'semantic'."""
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.random((count, n, n), dtype=np.float32)
    if kind == "normal":
        return rng.standard_normal((count, n, n), dtype=np.float32)
    if kind == "semantic":
        return semantic_costs(count, n, channels=256, seed=seed)
    raise ValueError(f"unknown kind {kind!r}")


def _scipy(cost):
    return linear_sum_assignment(cost)[1]


def _semrsm(method):  # the drop-in, called as scipy's is
    return lambda cost: semrsm.linear_sum_assignment(cost, method=method)[1]


def _lap(cost):  # gatagat/lap or lapx: whichever distribution owns the module 'lap'
    import lap
    return lap.lapjv(cost, extend_cost=True)[1]


def _lapjv(cost):  # src-d/lapjv
    import lapjv
    return lapjv.lapjv(cost)[0]


def _fastlap(cost):
    import fastlap
    return fastlap.linear_sum_assignment(cost)[1]


def _ortools(cost):
    """OR-tools' cost-scaling solver takes integer costs: scaled so the range spans 2^32 (it scales
    them by n + 1 again inside, and larger ranges overflow)."""
    from ortools.graph.python import linear_sum_assignment as ortools_assignment
    n, m = cost.shape
    c64 = cost.astype(np.float64)
    scale = 2.0**32 / max(np.ptp(c64), 1e-300)
    integer = np.rint((c64 - c64.min()) * scale).astype(np.int64)
    solver = ortools_assignment.SimpleLinearSumAssignment()
    tails = np.repeat(np.arange(n), m)
    heads = np.tile(np.arange(m), n)
    solver.add_arcs_with_cost(tails, heads, integer.ravel())
    if solver.solve() != solver.OPTIMAL:
        raise RuntimeError("OR-tools found no assignment")
    col = np.empty(n, dtype=np.int64)
    for i in range(n):
        col[i] = solver.right_mate(i)
    return col


#: The peers' distributions, for the versions line of a run (lapx installs the module 'lap' too).
PEER_DISTRIBUTIONS = ("lap", "lapx", "lapjv", "fastlap", "ortools")


def _lap_distribution() -> str:
    for dist in ("lapx", "lap"):
        try:
            importlib.metadata.version(dist)
            return dist
        except importlib.metadata.PackageNotFoundError:
            continue
    return "lap"


def available_solvers() -> dict:
    """Name -> solve(cost) for semrsm's exact methods and every peer that imports here."""
    solvers = {"scipy": _scipy, "semrsm.auto": _semrsm("auto"), "semrsm.jv": _semrsm("jv"),
               "semrsm.hybrid": _semrsm("hybrid"), "semrsm.auction": _semrsm("auction")}
    peers = {"lap": (_lap_distribution(), _lap), "lapjv": ("lapjv", _lapjv),
             "fastlap": ("fastlap", _fastlap), "ortools": ("ortools", _ortools)}
    for module, (name, solve) in peers.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        solvers[name] = solve
    return solvers
