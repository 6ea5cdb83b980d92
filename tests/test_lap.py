"""semrsm.solve and semrsm.linear_sum_assignment against scipy, brute force and the papers' rules."""

import itertools
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.optimize import linear_sum_assignment as scipy_lsa

import semrsm
from semrsm.datasets import semantic_costs

EXACT = ("auto", "jv", "hybrid")
ALL = ("auto", "jv", "hybrid", "auction", "greedy")


def optimum(cost, maximize=False):
    rows, cols = scipy_lsa(np.asarray(cost, dtype=np.float64), maximize=maximize)
    return np.asarray(cost, dtype=np.float64)[rows, cols].sum()


def total(cost, col):
    rows = np.flatnonzero(col >= 0)
    return np.asarray(cost, dtype=np.float64)[rows, col[rows]].sum()


def instance(kind, n, m, rng):
    if kind == "uniform":
        return rng.random((n, m))
    if kind == "normal":
        return rng.normal(size=(n, m))
    if kind == "ties":
        return rng.integers(0, 3, size=(n, m)).astype(np.float64)
    if kind == "constant":
        return np.full((n, m), 7.0)
    if kind == "rank1":
        return np.outer(rng.random(n), rng.random(m))
    if kind == "range":
        return rng.normal(size=(n, m)) * 10.0 ** rng.uniform(-6, 6, size=(n, m))
    if kind == "negative":
        return -rng.random((n, m)) * 100 - 50
    raise ValueError(kind)


KINDS = ("uniform", "normal", "ties", "constant", "rank1", "range", "negative")


def assert_is_assignment(col, n, m):
    assigned = col[col >= 0]
    assert len(assigned) == min(n, m)
    assert len(np.unique(assigned)) == len(assigned)
    assert assigned.max() < m


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("maximize", [False, True])
def test_exact_methods_match_scipy_on_many_instances(kind, maximize):
    rng = np.random.default_rng(hash((kind, maximize)) % 2**32)
    for trial in range(250):
        n, m = rng.integers(1, 24, size=2)
        cost = instance(kind, n, m, rng)
        best = optimum(cost, maximize)
        scale = max(1.0, np.abs(cost).max())
        for method in EXACT:
            result = semrsm.solve(cost, maximize=maximize, method=method)
            assert_is_assignment(result.col, n, m)
            assert total(cost, result.col) == pytest.approx(best, rel=1e-12, abs=1e-12 * scale * n)
            assert result.objective == pytest.approx(total(cost, result.col), rel=1e-12, abs=1e-300)
            assert result.gap <= 1e-9 * scale * max(n, m)


@pytest.mark.parametrize("method", ALL)
def test_linear_sum_assignment_is_a_drop_in_for_scipy(method, rng):
    for n, m in [(5, 5), (3, 8), (8, 3), (1, 1), (1, 6), (6, 1)]:
        cost = rng.random((n, m))
        rows, cols = semrsm.linear_sum_assignment(cost, method=method)
        ref_rows, ref_cols = scipy_lsa(cost)
        assert rows.dtype == ref_rows.dtype and cols.dtype == ref_cols.dtype
        assert np.array_equal(rows, np.sort(rows)) and len(rows) == len(ref_rows)
        if method in EXACT:
            assert cost[rows, cols].sum() == pytest.approx(cost[ref_rows, ref_cols].sum(), rel=1e-12)
        if n == m:
            assert np.array_equal(rows, np.arange(n))


def test_linear_sum_assignment_empty_like_scipy():
    for shape in [(0, 0), (0, 3), (3, 0)]:
        rows, cols = semrsm.linear_sum_assignment(np.zeros(shape))
        ref_rows, ref_cols = scipy_lsa(np.zeros(shape))
        assert rows.shape == ref_rows.shape == (0,) and cols.shape == (0,)


def test_float32_costs_solved_in_float32_give_scipys_objective(rng):
    for n in (10, 49, 100):
        cost = rng.normal(size=(n, n)).astype(np.float32)
        for method in EXACT:
            result = semrsm.solve(cost, method=method)
            assert result.objective == pytest.approx(optimum(cost.astype(np.float64)), rel=1e-9)


def test_semantic_costs_match_scipy():
    costs = semantic_costs(6, 49, channels=32)
    for method in EXACT:
        result = semrsm.solve(costs, method=method)
        for b in range(len(costs)):
            assert result.objective[b] == pytest.approx(optimum(costs[b]), rel=1e-9)


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 7), st.integers(1, 7)),
                  elements=st.floats(-1e3, 1e3, allow_nan=False, width=32)),
       st.booleans())
@settings(max_examples=300, deadline=None)
def test_exact_equals_brute_force(cost, maximize):
    n, m = cost.shape
    small, large = (cost, n) if n <= m else (cost.T, m)
    best_val = max if maximize else min
    brute = best_val(sum(small[i, perm[i]] for i in range(large))
                     for perm in itertools.permutations(range(small.shape[1]), large))
    for method in EXACT:
        result = semrsm.solve(cost, maximize=maximize, method=method)
        assert result.objective == pytest.approx(brute, rel=1e-9, abs=1e-9)
        # the certificate: a bound no assignment beats, and potentials feasible for the dual
        assert (result.bound <= result.objective + 1e-7) if maximize else (result.bound >= result.objective - 1e-7)
        slack = cost - result.u[:, None] - result.v[None, :]
        assert (slack <= 1e-7).all() if maximize else (slack >= -1e-7).all()


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 12)),
                  elements=st.integers(-20, 20).map(float)),
       st.booleans())
@settings(max_examples=200, deadline=None)
def test_auction_is_exact_on_integers_and_bounds_hold(cost, maximize):
    best = optimum(cost, maximize)
    auction = semrsm.solve(cost, maximize=maximize, method="auction")
    assert auction.objective == best
    greedy = semrsm.solve(cost, maximize=maximize, method="greedy")
    for result in (auction, greedy):
        if maximize:
            assert result.objective <= best <= result.bound
        else:
            assert result.objective >= best >= result.bound


@pytest.mark.parametrize("kind", ("uniform", "normal", "range", "rank1"))
def test_auction_within_its_reported_bound_on_real_costs(kind, rng):
    for trial in range(60):
        n, m = rng.integers(2, 30, size=2)
        cost = instance(kind, n, m, rng)
        eps = 10.0 ** rng.uniform(-6, -1) * np.ptp(cost)
        result = semrsm.solve(cost, method="auction", eps=eps)
        best = optimum(cost)
        assert_is_assignment(result.col, n, m)
        assert best - 1e-9 * np.abs(cost).max() <= result.objective <= best + min(n, m + 1) * max(n, m) * eps
        assert result.bound <= best + 1e-9 * np.abs(cost).max()
        assert result.objective - result.bound == pytest.approx(result.gap)


def greedy_reference(cost):
    """Wald et al.'s greedy, as the paper states it, for maximisation: rows in order of their best
    score, each taking the best column still free in its own ranking."""
    n, m = cost.shape
    order = sorted(range(n), key=lambda i: -cost[i].max())
    free = set(range(m))
    col = np.empty(n, dtype=np.int64)
    for i in order:
        ranking = sorted(range(m), key=lambda j: -cost[i, j])
        col[i] = next(j for j in ranking if j in free)
        free.discard(col[i])
    return col


def test_greedy_follows_the_papers_rule(rng):
    for trial in range(100):
        n = int(rng.integers(1, 15))
        m = int(rng.integers(n, 20))
        cost = rng.normal(size=(n, m))
        result = semrsm.solve(cost, maximize=True, method="greedy")
        assert np.array_equal(result.col, greedy_reference(cost))


def test_greedy_is_far_better_than_a_random_pairing_on_gaussian_costs(rng):
    # The authors' code ranks along the wrong axis and lands near a random pairing; the rule does not.
    cost = rng.normal(size=(20, 100, 100))
    greedy = semrsm.solve(cost, maximize=True, method="greedy").objective
    exact = semrsm.solve(cost, maximize=True).objective
    assert np.all(greedy > 0.8 * exact)
    assert np.all(greedy <= exact + 1e-9)


@pytest.mark.parametrize("method", ALL)
def test_constant_matrix_gives_identity(method):
    for n in (1, 2, 5, 40):
        result = semrsm.solve(np.full((n, n), 3.5), method=method)
        assert np.array_equal(result.col, np.arange(n))


@pytest.mark.parametrize("method", ALL)
def test_batch_equals_loop_of_single_solves_and_ignores_thread_count(method, rng):
    costs = rng.integers(0, 5, size=(40, 13, 17)).astype(np.float32)
    batch = semrsm.solve(costs, method=method, threads=2)
    one_thread = semrsm.solve(costs, method=method, threads=1)
    assert np.array_equal(batch.col, one_thread.col)
    assert np.array_equal(batch.objective, one_thread.objective)
    for b in range(len(costs)):
        single = semrsm.solve(costs[b], method=method)
        assert np.array_equal(single.col, batch.col[b])
        assert single.objective == batch.objective[b]
        assert single.bound == batch.bound[b]


def test_rectangular_with_more_rows_leaves_rows_unassigned(rng):
    cost = rng.random((4, 9, 5))
    result = semrsm.solve(cost)
    for b in range(4):
        assert (result.col[b] >= 0).sum() == 5
        assert total(cost[b], result.col[b]) == pytest.approx(optimum(cost[b]))


def test_rectangular_padding_survives_inf_and_all_negative_costs(rng):
    cost = -1e6 - rng.random((5, 12))  # all negative, large
    assert semrsm.solve(cost).objective == pytest.approx(optimum(cost))
    cost = rng.random((5, 12))
    cost[:, :4] = np.inf  # forbidden columns; still feasible
    for method in EXACT:
        result = semrsm.solve(cost, method=method)
        assert np.isfinite(result.objective) and result.objective == pytest.approx(optimum(cost))
    tall = rng.random((12, 5))
    tall[::2] = np.inf
    rows, cols = semrsm.linear_sum_assignment(tall)
    ref_rows, ref_cols = scipy_lsa(tall)
    assert tall[rows, cols].sum() == pytest.approx(tall[ref_rows, ref_cols].sum())


def test_forbidden_entries_match_scipy_and_infeasible_raises_like_scipy(rng):
    for trial in range(100):
        n = int(rng.integers(2, 9))
        cost = rng.random((n, n))
        cost[rng.random((n, n)) < 0.4] = np.inf
        try:
            ref = optimum(cost)
        except ValueError as exc:
            assert "infeasible" in str(exc)
            with pytest.raises(ValueError, match="cost matrix is infeasible"):
                semrsm.linear_sum_assignment(cost)
            continue
        for method in EXACT:
            assert semrsm.solve(cost, method=method).objective == pytest.approx(ref)
    maximised = rng.random((4, 4))
    maximised[0] = -np.inf
    with pytest.raises(ValueError, match="cost matrix is infeasible"):
        semrsm.linear_sum_assignment(maximised, maximize=True)


def test_nan_error_names_problem_and_position(rng):
    costs = rng.random((3, 4, 5))
    costs[2, 1, 3] = np.nan
    for method in ALL:
        with pytest.raises(ValueError, match=r"costs\[2, 1, 3\] is NaN"):
            semrsm.solve(costs, method=method)
    with pytest.raises(ValueError, match="invalid numeric entries"):
        semrsm.linear_sum_assignment(costs[2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_bad_entry_is_found_wherever_it_lies(dtype):
    # the engine scans entries in SIMD lanes with a scalar tail: a NaN or a wrong infinity in any
    # lane, first, last or in the tail, must stop the problem
    n, m = 7, 13
    for flat in range(n * m):
        for bad, message in ((np.nan, "is NaN"), (-np.inf, "is -inf")):
            cost = np.ones((n, m), dtype=dtype)
            cost.flat[flat] = bad
            with pytest.raises(ValueError, match=rf"costs\[{flat // m}, {flat % m}\] {message}"):
                semrsm.solve(cost)


@pytest.mark.parametrize("kind", ["normal", "logistic", "student_t"])
def test_auto_is_exact_on_heavy_tailed_costs_where_it_takes_the_hybrid(kind):
    # at n = 1200 the spread of the rows' minima sends these kinds to the hybrid (cpp/lap/rules.h:
    # n * spread = 140-1600 here, against 110)
    rng = np.random.default_rng(11)
    draw = {"normal": rng.standard_normal, "logistic": rng.logistic,
            "student_t": lambda size: rng.standard_t(3, size=size)}[kind]
    for cost in (draw(size=(1200, 1200)), 1e3 + 1e-2 * draw(size=(1200, 1200))):
        rows, cols = semrsm.linear_sum_assignment(cost)
        ref = scipy_lsa(cost)
        assert cost[rows, cols].sum() == pytest.approx(cost[ref].sum(), rel=1e-12, abs=1e-9)
        assert sorted(cols) == list(range(1200))


def test_wrong_infinities_and_forbidden_with_heuristics_raise(rng):
    cost = rng.random((4, 4))
    cost[1, 2] = -np.inf
    with pytest.raises(ValueError, match=r"costs\[1, 2\] is -inf, which is invalid when minimising"):
        semrsm.solve(cost)
    with pytest.raises(ValueError, match="invalid numeric entries"):
        semrsm.linear_sum_assignment(cost)
    cost[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"is inf, which is invalid when maximising"):
        semrsm.solve(cost, maximize=True)
    for method in ("auction", "greedy"):
        with pytest.raises(ValueError, match="supported by the exact methods"):
            semrsm.solve(cost, method=method)


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((2, 3, 4, 5)), ValueError, "2-D or 3-D"),
    (np.zeros(5), ValueError, "2-D or 3-D"),
    (np.zeros((0, 4)), ValueError, "empty"),
    (np.zeros((3, 0, 4)), ValueError, "empty"),
    (np.ones((3, 3)) * 1j, TypeError, "complex"),
    (np.array([["a", "b"], ["c", "d"]]), TypeError, "non-numeric"),
    ([[1, 2], [3]], TypeError, "could not be read"),
])
def test_bad_input_gets_clear_errors(bad, error, message):
    with pytest.raises(error, match=message):
        semrsm.solve(bad)


def test_bad_options_get_clear_errors():
    with pytest.raises(ValueError, match="unknown method 'hungarian'"):
        semrsm.solve(np.eye(3), method="hungarian")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        semrsm.solve(np.eye(3), threads=0)
    with pytest.raises(ValueError, match="eps must be a positive finite"):
        semrsm.solve(np.eye(3), method="auction", eps=-1.0)


def test_integers_bools_and_strided_input_are_converted(rng):
    ints = rng.integers(-5, 5, size=(6, 6))
    assert semrsm.solve(ints).objective == optimum(ints)
    assert semrsm.solve(ints.astype(bool), maximize=True).objective == optimum(ints.astype(bool), True)
    strided = rng.random((12, 12))[::2, ::2]
    assert not strided.flags.c_contiguous
    assert semrsm.solve(strided).objective == pytest.approx(optimum(strided))
    fortran = np.asfortranarray(rng.random((7, 9)))
    assert semrsm.solve(fortran).objective == pytest.approx(optimum(fortran))


def test_augmenting_row_reduction_terminates_on_near_ties():
    # Costs that differ in the last bits make row reduction trade columns by ever smaller steps.
    rng = np.random.default_rng(7)
    for n in (50, 200):
        base = rng.integers(0, 3, size=(n, n)).astype(np.float64)
        cost = base + rng.integers(-2, 3, size=(n, n)) * np.finfo(np.float64).eps
        assert semrsm.solve(cost).objective == pytest.approx(optimum(cost), abs=1e-9)
        assert semrsm.solve(cost.astype(np.float32)).objective == pytest.approx(
            optimum(cost.astype(np.float32)), abs=1e-5)


def test_auction_terminates_on_tie_heavy_and_huge_range_matrices(rng):
    ties = np.zeros((60, 60))
    ties[:, :3] = 1.0
    huge_integers = 2.0**55 + rng.integers(0, 3, size=(30, 30))  # eps below 1/m would not move a price
    for cost in (ties, rng.integers(0, 2, size=(80, 80)).astype(float), huge_integers,
                 rng.random((40, 40)) * 10.0 ** rng.integers(-6, 7, size=(40, 40))):
        result = semrsm.solve(cost, method="auction")
        assert abs(result.objective - optimum(cost)) <= result.gap + 1e-9 * np.abs(cost).max()


def test_results_for_more_than_2_to_the_31_elements_use_64_bit_offsets(rng):
    """129 problems of 4096 x 4096 float32: 2.16e9 elements. Zero pages cost no memory until written,
    so only the last problem, the one past 2^31, is real."""
    n = 4096
    costs = np.zeros((129, n, n), dtype=np.float32)
    costs[-1] = rng.integers(0, 100, size=(n, n))
    assert costs.size > 2**31
    result = semrsm.solve(costs, method="hybrid")
    assert result.objective[-1] == pytest.approx(optimum(costs[-1]))
    assert np.all(result.objective[:-1] == 0)


def test_ctrl_c_stops_a_long_batch_promptly(tmp_path):
    script = textwrap.dedent("""
        import sys, time, numpy as np, semrsm
        from semrsm.datasets import semantic_costs
        costs = np.broadcast_to(semantic_costs(1, 784), (100, 784, 784))  # ~15 s with jv on one thread
        print("ready", flush=True)
        start = time.monotonic()
        try:
            semrsm.solve(costs, method="jv", threads=1)
        except KeyboardInterrupt:
            print(f"interrupted {time.monotonic() - start:.3f}", flush=True)
            sys.exit(0)
        print("finished", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    import time
    time.sleep(1.0)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    stopped_after = time.monotonic() - started
    assert out.startswith("interrupted"), out
    # The whole batch takes tens of seconds on one thread; an interrupted one returns at once.
    assert stopped_after < 5.0


def test_a_forked_child_can_solve_after_its_parent_did():
    """libgomp's pool does not survive fork (GCC bug 60035): the engine keeps OpenMP off the caller's
    thread, so a multiprocessing child can use semrsm whatever its parent ran, small or large."""
    script = textwrap.dedent("""
        import multiprocessing as mp, numpy as np, semrsm
        small = np.random.default_rng(0).random((50, 20, 20))
        large = np.random.default_rng(1).random((1000, 49, 49))
        expected = (semrsm.solve(small, threads=2).objective.sum(), semrsm.solve(large, threads=2).objective.sum())
        def child(q):
            q.put((semrsm.solve(small, threads=2).objective.sum(), semrsm.solve(large, threads=2).objective.sum()))
        if __name__ == "__main__":
            ctx = mp.get_context("fork")
            q = ctx.Queue()
            p = ctx.Process(target=child, args=(q,))
            p.start()
            p.join(30)
            if p.is_alive():
                p.kill()
                print("hang")
            else:
                print("same" if q.get() == expected else "different")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "same", out.stdout + out.stderr
