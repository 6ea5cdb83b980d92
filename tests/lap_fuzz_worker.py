"""The worker of tests/test_lap_numerics.py: solves the instances of the kinds named on the command line
with every LAP method, checks each against scipy.optimize.linear_sum_assignment, and prints one JSON line
per kind, {"kind": ..., "instances": ..., "failures": [...]}. It runs in a subprocess so that a hang or
an abort fails the test that started it instead of stalling or killing pytest.

What is checked, with totals and bounds compared as exact rationals (``Fraction``), so that the
reference itself cannot overflow or round:

- the assignment is valid: every row of an n <= m problem (every column of an n > m one) gets a
  distinct index in range, the others -1;
- ``objective`` is the float64 rounding of the exact sum of the assigned costs, to within 2^-50 of
  their magnitudes (the engine sums in long double, 64 significant bits, then rounds once);
- the exact methods (auto, jv, hybrid) reach scipy's total to within RTOL of the magnitudes of the
  assigned costs of both: both are exact shortest-path solvers in float64, whose comparisons of
  reduced costs round at about 2^-52 of the potentials, which lie within a few times the assigned
  costs; 1e-9 leaves room for n <= 40 such roundings along a path and still fails any assignment
  that is off by a cost of its own (1 among zeros next to 1e20, as in the issue's reproducers);
- ``bound`` never passes the optimum: at most scipy's total (at least, when maximising) exactly, with
  no tolerance, for every method; the auction's total is within its gap of the bound, and the
  greedy one at least as bad as scipy's (to within RTOL: scipy's float64 optimum can itself be off
  by a rounding).
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction

import numpy as np
from scipy.optimize import linear_sum_assignment as scipy_lsa

import semrsm

RTOL = Fraction(1, 10**9)
OBJECTIVE_ROUNDING = Fraction(1, 2**50)
EXACT = ("auto", "jv", "hybrid")
METHODS = EXACT + ("auction", "greedy")
FMAX = np.finfo(np.float64).max


def _uniform_shape(rng, low=1, high=12):
    return int(rng.integers(low, high)), int(rng.integers(low, high))


def _square(rng, low=1, high=12):
    n = int(rng.integers(low, high))
    return n, n


def kind_instances(kind: str, rng, count: int):
    """``count`` instances of ``kind``: (costs, maximize) pairs; costs may be of any dtype or layout."""
    out = []
    for k in range(count):
        maximize = bool(k % 3 == 2)
        n, m = _uniform_shape(rng)
        if kind == "subnormal":
            a = rng.integers(1, 10, (n, m)) * 5e-324 if k % 2 else rng.random((n, m)) * 1e-310
        elif kind == "signed_zero_tiny":
            a = rng.choice(np.array([0.0, -0.0, 1e-320, 2e-320, -1e-320]), (n, m))
        elif kind == "near_max":
            a = rng.uniform(-1, 1, (n, m)) * 1.7e308
        elif kind == "near_max_repro":
            base = [[[-1., -1, -1], [-1, -1, -1], [-1, 1, 0.5]], [[-1., -1, -1], [-1, -1, -1], [-0.5, -1, -1]]]
            a = FMAX * np.array(base[k % 2]) if k < 2 else FMAX * rng.choice([-1.0, -0.5, 0.5, 1.0], (n, m))
        elif kind == "wide_magnitudes":
            a = 10.0 ** rng.uniform(-300, 300, (n, m)) * rng.choice([-1.0, 1.0], (n, m))
        elif kind == "one_huge":
            a = rng.random((n, m))
            a[rng.integers(n), rng.integers(m)] = 1e15 if k % 2 else 1e20
        elif kind == "span_repro":
            a = np.array([[0., 0, 0], [0, 0, 0], [1, 0, [1e20, 1e13, 1e15][k % 3]]]) if k < 6 else \
                np.where(rng.random((n, m)) < 0.5, 0.0, rng.choice([1.0, 1e13, 1e20], (n, m)))
        elif kind == "one_row_minima":
            n, m = _square(rng, 2, 40)
            a = rng.random((n, m))
            a[rng.integers(n)] -= 1.0 + rng.random(m)  # that row holds every column's minimum
        elif kind == "integers":
            dtype = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64][k % 8]
            info = np.iinfo(dtype)
            a = rng.integers(info.min, info.max, (n, m), dtype=dtype, endpoint=True)
        elif kind == "float16":
            a = rng.normal(0, 1000, (n, m)).astype(np.float16)
        elif kind == "longdouble":
            a = (rng.normal(0, 1, (n, m)) * 10.0 ** rng.uniform(-300, 300)).astype(np.longdouble)
        elif kind == "views":
            big = rng.normal(size=(2 * n + 1, 3 * m + 2))
            a = big[1::2, ::3][:n, :m] if k % 2 else np.asfortranarray(big[:n, :m])
            a.flags.writeable = False
        elif kind == "float32":
            a = (rng.normal(size=(n, m)) * 10.0 ** rng.uniform(-40, 38)).astype(np.float32)
        elif kind == "rectangular":
            n, m = (int(rng.integers(1, 6)), int(rng.integers(8, 30)))
            if k % 2:
                n, m = m, n
            a = rng.normal(size=(n, m)) * 10.0 ** rng.uniform(-300, 300)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        out.append((a, maximize))
    return out


def exact_total(costs: np.ndarray, rows, cols) -> Fraction:
    return sum((Fraction(float(costs[i, j])) for i, j in zip(rows, cols)), Fraction(0))


def magnitude(costs: np.ndarray, rows, cols) -> Fraction:
    return sum((abs(Fraction(float(costs[i, j]))) for i, j in zip(rows, cols)), Fraction(0))


def show(x: Fraction) -> str:
    return repr(float(x)) if abs(x) <= FMAX else f"{'-' if x < 0 else ''}{float(abs(x) / 2**1000)!r} * 2**1000"


def as_fraction(x: float):
    return Fraction(x) if np.isfinite(x) else x


def check(a, maximize: bool, method: str):
    """The failures of one solve, as strings (empty when it passes)."""
    ref = np.asarray(a, dtype=np.float64)  # what the engine solves: float32 stays, others float64
    if np.asarray(a).dtype == np.float32:
        ref = np.asarray(a, dtype=np.float32).astype(np.float64)
    n, m = ref.shape
    # scipy's reference; costs near the float64 maximum are scaled down by a power of two first (exact
    # but for the costs 2^-1000 below the largest), so that scipy's own differences cannot overflow
    scale = max(0, int(np.frexp(np.abs(ref).max())[1]) - 1000)
    rows_s, cols_s = scipy_lsa(np.ldexp(ref, -scale), maximize=maximize)
    best = exact_total(ref, rows_s, cols_s)
    result = semrsm.solve(a, maximize=maximize, method=method)
    col = np.asarray(result.col)
    failures = []
    rows = np.flatnonzero(col >= 0)
    cols = col[rows]
    if len(rows) != min(n, m) or len(set(cols.tolist())) != len(cols) or (cols >= m).any() or (col < -1).any():
        return [f"invalid assignment {col.tolist()}"]
    total = exact_total(ref, rows, cols)
    size = magnitude(ref, rows, cols)
    objective = result.objective
    if np.isfinite(objective):
        if abs(Fraction(objective) - total) > OBJECTIVE_ROUNDING * size:
            failures.append(f"objective {objective!r} is not the sum of its costs {show(total)}")
    elif abs(total) <= Fraction(FMAX):
        failures.append(f"objective {objective!r} where the sum of its costs is {show(total)}")
    worse = (best - total) if maximize else (total - best)
    if method in EXACT and worse > RTOL * (size + magnitude(ref, rows_s, cols_s)):
        failures.append(f"total {show(total)}, scipy's {show(best)}")
    if method == "greedy" and -worse > RTOL * (size + magnitude(ref, rows_s, cols_s)):
        failures.append(f"greedy total {show(total)} beats scipy's {show(best)}")
    bound = as_fraction(result.bound)
    if bound != bound or (bound > best if not maximize else bound < best):
        failures.append(f"bound {result.bound!r} passes the optimum {show(best)}")
    if method == "auction" and np.isfinite(result.bound) and np.isfinite(result.gap) and abs(total - Fraction(result.bound)) > \
            Fraction(result.gap) * (1 + RTOL) + RTOL * size:
        failures.append(f"auction total {show(total)} outside its gap {result.gap!r} of {result.bound!r}")
    return failures


def run_kind(kind: str, count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    failures = []
    instances = kind_instances(kind, rng, count)
    for index, (a, maximize) in enumerate(instances):
        for method in METHODS:
            for failure in check(a, maximize, method):
                failures.append(f"{kind}[{index}] {method} maximize={maximize} shape={np.shape(a)}: {failure}")
    return {"kind": kind, "instances": len(instances), "failures": failures[:20]}


def main(argv) -> None:
    count, seed = int(argv[0]), int(argv[1])
    for kind in argv[2:]:
        print(json.dumps(run_kind(kind, count, seed)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
