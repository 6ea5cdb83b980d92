"""The CUDA LAP solver (cuda/engine/batch.cu, cuda/lap/) against scipy and the CPU engine; skipped without a GPU."""


import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment as scipy_lsa

import semrsm
from cuda_support import cupy_or_skip
from semrsm.datasets import semantic_costs

pytestmark = pytest.mark.cuda

cp = cupy_or_skip()


def optimum(cost, maximize=False):
    c = np.asarray(cost, dtype=np.float64)
    rows, cols = scipy_lsa(c, maximize=maximize)
    return c[rows, cols].sum()


def check_assignment(cost, col, objective, maximize=False, rtol=1e-9):
    """col is a valid assignment whose total is `objective` and matches scipy's optimum."""
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    col = np.asarray(col)
    rows = np.flatnonzero(col >= 0)
    assert rows.size == min(n, m)
    assert np.unique(col[rows]).size == rows.size
    total = cost[rows, col[rows]].sum()
    assert objective == pytest.approx(total, rel=1e-12, abs=1e-9)
    scale = np.abs(cost[np.isfinite(cost)]).sum() + 1.0
    assert abs(total - optimum(cost, maximize)) <= rtol * scale


SIZES = [1, 2, 3, 7, 31, 32, 33, 64, 100, 128, 129, 200, 256, 257, 300, 512, 700, 1024]


@pytest.mark.parametrize("n", SIZES)
def test_square_uniform_matches_scipy(n, rng):
    batch = 3 if n <= 512 else 1
    costs = rng.random((batch, n, n)).astype(np.float32)
    result = semrsm.solve(cp.asarray(costs), method="jv")
    assert isinstance(result.col, cp.ndarray) and result.col.dtype == cp.int32
    assert isinstance(result.objective, cp.ndarray)
    col, obj, bound = result.col.get(), result.objective.get(), result.bound.get()
    for b in range(batch):
        check_assignment(costs[b], col[b], obj[b])
        assert bound[b] <= obj[b] + 1e-9 * n
        assert obj[b] - bound[b] <= 1e-6 * max(1.0, abs(obj[b]))


@pytest.mark.parametrize("n,m", [(3, 5), (10, 64), (100, 257), (64, 1000), (5, 3), (257, 100), (1, 40)])
@pytest.mark.parametrize("maximize", [False, True])
def test_rectangular_and_maximize(n, m, maximize, rng):
    costs = rng.standard_normal((2, n, m))
    result = semrsm.solve(cp.asarray(costs), maximize=maximize)
    for b in range(2):
        check_assignment(costs[b], result.col[b].get(), float(result.objective[b]), maximize)
        if maximize:
            assert float(result.bound[b]) >= float(result.objective[b]) - 1e-9
        else:
            assert float(result.bound[b]) <= float(result.objective[b]) + 1e-9
        assert float(result.gap[b]) <= 1e-7 * max(n, m)


def test_integer_ties_exact(rng):
    costs = rng.integers(0, 4, size=(50, 40, 40)).astype(np.float32)
    result = semrsm.solve(cp.asarray(costs))
    obj = result.objective.get()
    for b in range(50):
        assert obj[b] == optimum(costs[b])
        check_assignment(costs[b], result.col[b].get(), obj[b])


def test_dual_feasibility_and_tightness(rng):
    costs = rng.random((4, 90, 120))
    result = semrsm.solve(cp.asarray(costs))
    u, v, col = result.u.get(), result.v.get(), result.col.get()
    for b in range(4):
        reduced = costs[b] - u[b][:, None] - v[b][None, :]
        assert reduced.min() >= -1e-9
        assert np.abs(reduced[np.arange(90), col[b]]).max() <= 1e-9


@pytest.mark.parametrize("maximize", [False, True])
def test_semantic_costs_match_cpu_engine(maximize):
    costs = semantic_costs(24, 64)
    if maximize:
        costs = -costs
    gpu = semrsm.solve(cp.asarray(costs), maximize=maximize)
    cpu = semrsm.solve(costs, method="jv", maximize=maximize)
    np.testing.assert_allclose(gpu.objective.get(), cpu.objective, rtol=1e-9, atol=1e-6)
    for b in range(0, 24, 6):
        check_assignment(costs[b], gpu.col[b].get(), float(gpu.objective[b]), maximize)


@pytest.mark.parametrize("n", [256, 400, 1024])
def test_semantic_costs_auction_path(n):
    """Inner-product costs leave most rows free after column reduction: the auction hand-over path,
    warp (256) and block (400, 1024) kernels."""
    costs = semantic_costs(3, n)
    gpu = semrsm.solve(cp.asarray(costs))
    np.testing.assert_array_less(gpu.objective.get() - gpu.bound.get(), 1e-6 * np.abs(gpu.objective.get()) + 1e-6)
    cpu = semrsm.solve(costs)
    np.testing.assert_allclose(gpu.objective.get(), cpu.objective, rtol=1e-9, atol=1e-5)


@pytest.mark.parametrize("n", [144, 400])
def test_semantic_hand_over_small(n):
    """The auction hand-over path at sizes compute-sanitizer can run: a warp (144) and a block (400)."""
    costs = semantic_costs(1, n)
    for maximize in (False, True):
        work = -costs if maximize else costs
        gpu = semrsm.solve(cp.asarray(work), maximize=maximize)
        cpu = semrsm.solve(work, maximize=maximize)
        np.testing.assert_allclose(gpu.objective.get(), cpu.objective, rtol=1e-9, atol=1e-5)
        check_assignment(work[0], gpu.col[0].get(), float(gpu.objective[0]), maximize)


def test_forbidden_entries_and_infeasible(rng):
    costs = rng.random((3, 6, 6))
    costs[0, 0, :5] = np.inf  # row 0 must take column 5
    costs[1, :, 2] = np.inf   # column 2 cannot be covered: infeasible
    ok = semrsm.solve(cp.asarray(costs[[0, 2]]))
    assert int(ok.col[0, 0]) == 5
    check_assignment(costs[0], ok.col[0].get(), float(ok.objective[0]))
    with pytest.raises(ValueError, match="infeasible"):
        semrsm.solve(cp.asarray(costs))
    rect = rng.random((4, 8))
    rect[:, :5] = np.inf  # 4 rows, only 3 usable columns
    with pytest.raises(ValueError, match="infeasible"):
        semrsm.linear_sum_assignment(cp.asarray(rect))
    maxi = -costs[0]
    result = semrsm.solve(cp.asarray(maxi), maximize=True)
    assert int(result.col[0]) == 5


def test_invalid_entries_raise(rng):
    costs = rng.random((2, 5, 5))
    costs[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"costs\[1, 2, 3\] is NaN"):
        semrsm.solve(cp.asarray(costs))
    with pytest.raises(ValueError, match="invalid numeric entries"):
        semrsm.linear_sum_assignment(cp.asarray(costs[1]))
    bad = rng.random((4, 4))
    bad[0, 1] = -np.inf
    with pytest.raises(ValueError, match="invalid when minimising"):
        semrsm.solve(cp.asarray(bad))
    with pytest.raises(TypeError):
        semrsm.solve(cp.asarray(bad) + 1j)


def test_linear_sum_assignment_cupy_and_device(rng):
    cost = rng.random((40, 60)).astype(np.float32)
    rows, cols = semrsm.linear_sum_assignment(cp.asarray(cost))
    assert isinstance(rows, cp.ndarray) and rows.dtype == np.intp
    assert float(cp.asarray(cost)[rows, cols].sum()) == pytest.approx(optimum(cost), rel=1e-6)
    r2, c2 = semrsm.linear_sum_assignment(cost, device="cuda")
    assert isinstance(r2, np.ndarray)
    np.testing.assert_array_equal(r2, np.arange(40))
    assert cost.astype(np.float64)[r2, c2].sum() == pytest.approx(optimum(cost), rel=1e-9)
    tall_rows, tall_cols = semrsm.linear_sum_assignment(cp.asarray(cost.T))
    assert tall_rows.size == 40
    e_rows, e_cols = semrsm.linear_sum_assignment(cp.zeros((0, 3)))
    assert e_rows.size == 0 and e_cols.size == 0


def test_numpy_input_device_cuda_returns_numpy(rng):
    costs = rng.random((5, 20, 20)).astype(np.float32)
    result = semrsm.solve(costs, device="cuda")
    assert isinstance(result.col, np.ndarray) and isinstance(result.objective, np.ndarray)
    cpu = semrsm.solve(costs)
    np.testing.assert_allclose(result.objective, cpu.objective, rtol=1e-9)
    single = semrsm.solve(costs[0], device="cuda")
    assert isinstance(single.objective, float)
    assert single.objective == pytest.approx(cpu.objective[0], rel=1e-9)
    with pytest.raises(ValueError, match="device"):
        semrsm.solve(costs, device="tpu")


def test_runs_on_current_stream(rng):
    costs = rng.random((64, 50, 50)).astype(np.float32)
    expected = semrsm.solve(costs).objective
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        d = cp.asarray(costs)
        result = semrsm.solve(d)
        obj = result.objective * 1.0  # queued behind the solve on the same stream
    stream.synchronize()
    np.testing.assert_allclose(obj.get(), expected, rtol=1e-9)


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("shape", [(3, 12, 12), (2, 7, 19), (2, 19, 7)])
def test_greedy_on_the_gpu_equals_cpu_engine(shape, maximize, rng):
    for costs in (rng.random(shape), rng.integers(0, 3, size=shape).astype(np.float64)):
        result = semrsm.solve(cp.asarray(costs), method="greedy", maximize=maximize)
        cpu = semrsm.solve(costs, method="greedy", maximize=maximize)
        assert isinstance(result.col, cp.ndarray) and result.u is None
        np.testing.assert_array_equal(result.col.get(), cpu.col)  # tie for tie
        np.testing.assert_allclose(result.objective.get(), cpu.objective, rtol=1e-12)
        np.testing.assert_allclose(result.bound.get(), cpu.bound, rtol=1e-12)
    blocked = rng.random((4, 4))
    blocked[0, 0] = np.inf
    with pytest.raises(ValueError, match="forbidden"):
        semrsm.solve(cp.asarray(blocked), method="greedy")


@pytest.mark.parametrize("n", [5, 64, 200, 300])
def test_auction_on_the_gpu_within_its_bound(n, rng):
    uniform = rng.random((3, n, n))
    integers = rng.integers(0, 50, size=(3, n, n)).astype(np.float64)
    for costs in (uniform, integers, semantic_costs(2, 196 if n == 200 else 64, seed=2)):
        for maximize in (False, True):
            result = semrsm.solve(cp.asarray(costs), method="auction", maximize=maximize)
            assert isinstance(result.u, cp.ndarray)
            col, obj, gap = result.col.get(), result.objective.get(), result.gap.get()
            for b in range(len(costs)):
                best = optimum(costs[b], maximize)
                assert np.unique(col[b]).size == costs.shape[1]
                assert abs(obj[b] - best) <= gap[b] + 1e-9 * np.abs(costs[b]).sum()
                if costs is integers:
                    assert obj[b] == best  # the default eps is below 1/n on integers
    eps = 1e-3
    result = semrsm.solve(cp.asarray(uniform), method="auction", eps=eps)
    assert (result.gap.get() <= n * eps * (1 + 1e-9)).all()


def test_rectangular_auction_falls_back_to_cpu(rng):
    costs = rng.random((3, 12, 20))
    result = semrsm.solve(cp.asarray(costs), method="auction")
    cpu = semrsm.solve(costs, method="auction")
    assert isinstance(result.col, cp.ndarray)
    np.testing.assert_allclose(result.objective.get(), cpu.objective)


def test_large_batch_small_n_warp_kernel(rng):
    costs = cp.random.default_rng(3).random((20000, 16, 16), dtype=cp.float32)
    result = semrsm.solve(costs)
    host = costs[-5:].get()
    for b in range(5):
        assert float(result.objective[-5 + b]) == pytest.approx(optimum(host[b]), rel=1e-9)


@pytest.mark.slow
def test_64bit_offsets():
    """B * n * m above 2^31 entries: the last problems must still be read from the right place."""
    n = 256
    batch = (2**31) // (n * n) + 64
    free, _ = cp.cuda.runtime.memGetInfo()
    if free < batch * n * n * 4 * 1.3:
        pytest.skip("not enough free GPU memory")
    costs = cp.random.default_rng(7).random((batch, n, n), dtype=cp.float32)
    result = semrsm.solve(costs)
    tail = costs[-3:].get()
    for b in range(3):
        assert float(result.objective[-3 + b]) == pytest.approx(optimum(tail[b]), rel=1e-9)
    del costs, result
    cp.get_default_memory_pool().free_all_blocks()
