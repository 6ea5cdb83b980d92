"""The LAP engine at the extremes of floating point (issue 12, section 1): a differential fuzz against
scipy.optimize.linear_sum_assignment over every method and the kinds of costs that crashed, hung or
misled the solvers, each run in a subprocess under a timeout so that an abort or a hang fails a test
instead of killing or stalling pytest (the checks and their tolerances: tests/lap_fuzz_worker.py);
then the options that must be refused with a ValueError, and Ctrl-C during a solve on the calling
thread."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import semrsm

WORKER = Path(__file__).with_name("lap_fuzz_worker.py")
INSTANCES = 40  # per kind, each solved by all five methods
TIMEOUT = 120.0
# Two workers at once (the CI machine has two cores), kinds shared out so that each takes about as long.
GROUPS = (
    ("subnormal", "signed_zero_tiny", "near_max", "near_max_repro", "wide_magnitudes", "one_huge", "span_repro"),
    ("one_row_minima", "integers", "float16", "longdouble", "views", "float32", "rectangular"),
)
KINDS = [kind for group in GROUPS for kind in group]


@pytest.fixture(scope="module")
def fuzz_results():
    """{kind: the worker's report, or the reason its worker gave none}, every worker run concurrently."""
    workers = [subprocess.Popen([sys.executable, str(WORKER), str(INSTANCES), str(seed), *group],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for seed, group in enumerate(GROUPS)]
    results = {}
    for worker, group in zip(workers, GROUPS):
        try:
            out, err = worker.communicate(timeout=TIMEOUT)
            died = f"exit status {worker.returncode}: {err[-2000:]}" if worker.returncode else None
        except subprocess.TimeoutExpired:
            worker.kill()
            out, err = worker.communicate()
            died = f"no answer within {TIMEOUT} s (a hang): {err[-2000:]}"
        for line in out.splitlines():
            report = json.loads(line)
            results[report["kind"]] = report
        for kind in group:
            results.setdefault(kind, {"kind": kind, "died": died or "no report"})
    return results


@pytest.mark.parametrize("kind", KINDS)
def test_every_method_against_scipy(fuzz_results, kind):
    report = fuzz_results[kind]
    assert "died" not in report, f"{kind}: the worker {report.get('died')}"
    assert report["instances"] == INSTANCES
    assert report["failures"] == [], "\n".join(report["failures"])


def test_issue_reproducers():
    maximum = np.finfo(np.float64).max
    col = semrsm.solve(maximum * np.array([[-1., -1, -1], [-1, -1, -1], [-1, 1, 0.5]])).col
    assert sorted(col.tolist()) == [0, 1, 2]
    result = semrsm.solve(np.array([[0., 0, 0], [0, 0, 0], [1, 0, 1e20]]))
    assert result.objective == 0.0 and result.bound <= 0.0 and result.gap < 1e-9
    result = semrsm.solve(np.array([[0., 0, 0], [0, 0, 0], [1, 0, 1e13]]), method="hybrid")
    assert result.objective == 0.0 and result.bound <= 0.0
    # assigned costs near the maximum whose total is finite, though their sum in row order is not
    costs = maximum * np.array([[1., 1, 1], [1, 1, 1], [-1, 1, 1]])
    result = semrsm.solve(costs)
    assert result.col[2] == 0 and result.objective == maximum and result.bound <= maximum


def test_subnormal_semantic_features():
    """float64 features of magnitude 1e-162 make subnormal cost blocks; every matcher finishes and
    matches the features at unit scale (the matchers are scale-invariant)."""
    x = np.random.default_rng(0).random((4, 2, 2, 2))
    for matcher in ("exact", "auction", "batch_optimal", "topk_greedy", "greedy"):
        tiny = semrsm.semantic_rsm(x * 1e-162, matcher=matcher)
        unit = semrsm.semantic_rsm(x, matcher=matcher)
        np.testing.assert_allclose(tiny, unit, rtol=1e-12, err_msg=matcher)


@pytest.mark.parametrize("threads", [2**31, 40000, 65536])
def test_threads_beyond_the_limit_are_refused(threads):
    with pytest.raises(ValueError, match="threads must be at most"):
        semrsm.solve(np.eye(3), threads=threads)
    with pytest.raises(ValueError, match="threads must be at most"):
        semrsm.semantic_rsm(np.ones((3, 2, 2)), threads=threads)


@pytest.mark.parametrize("option", ["window", "topk"])
def test_counts_beyond_an_int_are_refused(option):
    matcher = "batch_optimal" if option == "window" else "topk_greedy"
    with pytest.raises(ValueError, match=f"{option} must be at most 2147483647"):
        semrsm.semantic_rsm(np.ones((3, 2, 2)), matcher=matcher, **{option: 2**31})


def test_longdouble_beyond_float64_is_refused():
    costs = np.ones((2, 2), dtype=np.longdouble)
    costs[1, 0] = np.longdouble("1e400")
    if not np.isfinite(costs[1, 0]):
        pytest.skip("longdouble is float64 on this platform")
    for solve in (semrsm.solve, semrsm.linear_sum_assignment):
        with pytest.raises(ValueError, match=r"\[1, 0\] is 1\.e\+400, beyond the float64 range"):
            solve(costs)
    costs[1, 0], costs[1, 1] = 1.0, np.inf  # +inf still forbids an assignment
    assert semrsm.linear_sum_assignment(costs)[1].tolist() == [1, 0]


CTRL_C = """
import os, signal, threading, time
import numpy as np, semrsm
costs = np.random.default_rng(0).random((1_000_000, 3, 3))  # 2.7e7 steps: solved on the calling thread
start = time.perf_counter()
semrsm.solve(costs[:100_000], method="auction", threads=1)
estimate = 10 * (time.perf_counter() - start)
threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
start = time.perf_counter()
try:
    semrsm.solve(costs, method="auction", threads=1)
    print("finished", estimate)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start, estimate)
"""


def test_ctrl_c_stops_a_solve_on_the_calling_thread():
    out = subprocess.run([sys.executable, "-c", CTRL_C], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert words[0] == "interrupted", out.stdout
    elapsed, estimate = float(words[1]), float(words[2])
    assert elapsed < 0.5 * estimate, out.stdout  # stopped by its own polls, not after the batch
