"""semrsm.benchmarking: the side-by-side timer that bench/ and ``semrsm bench-lap`` use."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from semrsm.benchmarking import compare_solvers, median_seconds


def test_no_solver_meets_the_same_problem_twice_in_a_row():
    problems = np.random.default_rng(0).random((4, 6, 6))
    calls = []

    def recording(name):
        def solve(cost):
            calls.append((name, next(k for k, p in enumerate(problems) if np.array_equal(p, cost))))
            return linear_sum_assignment(cost)[1]
        return solve

    compare_solvers({"scipy": recording("scipy"), "other": recording("other")}, problems, repeats=3)
    for name in ("scipy", "other"):
        own = [k for who, k in calls if who == name]
        assert sorted(own) == sorted(list(range(4)) * 3)  # every problem once per round
        assert all(a != b for a, b in zip(own, own[1:]))
    # the order of the solvers rotates between rounds, so neither always runs first
    firsts = [calls[round_ * 8][0] for round_ in range(3)]
    assert firsts == ["scipy", "other", "scipy"]


def test_rows_report_speedup_and_objective_excess():
    problems = np.random.default_rng(1).random((3, 5, 5))
    rows = compare_solvers({"scipy": lambda c: linear_sum_assignment(c)[1],
                            "identity": lambda c: np.arange(len(c))}, problems, repeats=2)
    by_name = {row["solver"]: row for row in rows}
    assert by_name["scipy"]["speedup"] == pytest.approx(1.0)
    assert by_name["scipy"]["excess"] == 0.0
    excess = max((c[np.arange(5), np.arange(5)].sum() - c[linear_sum_assignment(c)].sum())
                 / (np.abs(c).sum() / 5) for c in problems)
    assert by_name["identity"]["excess"] == pytest.approx(excess)


def test_a_failing_peer_is_reported_and_a_failing_baseline_raises():
    problems = np.random.default_rng(2).random((2, 4, 4))

    def broken(cost):
        raise RuntimeError("no luck")

    rows = compare_solvers({"scipy": lambda c: linear_sum_assignment(c)[1], "peer": broken}, problems)
    assert rows[1]["solver"] == "peer (failed: no luck)" and np.isnan(rows[1]["ms"])
    with pytest.raises(RuntimeError, match="no luck"):
        compare_solvers({"scipy": broken}, problems)
    with pytest.raises(ValueError, match="baseline 'scipy' is not among"):
        compare_solvers({"peer": broken}, problems)


def test_median_seconds_runs_at_least_repeats_times():
    count = []
    assert median_seconds(lambda: count.append(1), repeats=4) >= 0.0
    assert len(count) == 4
