"""The GPU engine's array steps (python/semrsm/semantic/_arrays.py), run on NumPy: the same greedy
rule, windows, rank bookkeeping, bounds and chunk loop that run on CuPy, held to the C++ engine and
to brute force."""

import dataclasses
import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import semrsm
from semrsm.lap._arrays import greedy_assignment
from semrsm.semantic import compute
from semrsm.semantic._arrays import bytes_per_pair, numpy_ops
from semrsm.semantic._plan import Options

MATCHERS = ["jv", "auction", "greedy", "topk_greedy", "batch_optimal"]


def arrays_rsm(x, y=None, ops=None, **options):
    """semantic_rsm on the array steps of ``ops`` (NumPy by default)."""
    settings = dict(kernel="inner", matcher="jv", window=128, partial_window="largest", topk=None, layout="NSC",
                    return_perm=False, return_bound=False, sigma=None, threads=None, max_memory=None, progress=False)
    settings.update(options)
    return compute(x, y, Options.check(**settings), ops or numpy_ops())


def small_integers(rng, shape):
    """Features whose products and sums are exact in float32: every tie is a real tie."""
    return rng.integers(-3, 4, size=shape).astype(np.float32)


def greedy_reference(cost, maximize):
    """The rule as the paper states it, in plain Python: rows by their best entry (lower row first on
    ties), each takes its best free column (lower column first)."""
    c = -np.asarray(cost, dtype=np.float64) if maximize else np.asarray(cost, dtype=np.float64)
    n, m = c.shape
    order = sorted(range(n), key=lambda i: (c[i].min(), i))
    free = list(range(m))
    col = np.empty(n, dtype=np.int64)
    for i in order:
        j = min(free, key=lambda j: (c[i, j], j))
        free.remove(j)
        col[i] = j
    return col


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("n,m", [(1, 1), (5, 5), (16, 16), (6, 11), (33, 40)])
def test_greedy_matches_engine_and_rule(n, m, maximize, rng):
    for costs in (rng.standard_normal((4, n, m)), rng.integers(0, 3, size=(4, n, m)).astype(np.float64)):
        col, objective, bound = greedy_assignment(costs, maximize, np)
        engine = semrsm.solve(costs, maximize=maximize, method="greedy", device="cpu")
        np.testing.assert_array_equal(col, engine.col)
        np.testing.assert_allclose(objective, engine.objective, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(bound, engine.bound, rtol=1e-12, atol=1e-12)
        for b in range(len(costs)):
            np.testing.assert_array_equal(col[b], greedy_reference(costs[b], maximize))
            rows, cols = linear_sum_assignment(costs[b], maximize=maximize)
            optimum = costs[b][rows, cols].sum()
            # The bound holds: no assignment beats it, the greedy one included.
            assert (bound[b] >= optimum - 1e-9) if maximize else (bound[b] <= optimum + 1e-9)


def check_perm_attains(x, y, perm, objective, symmetric, rtol=1e-6):
    """Every permutation is one, and the aligned inner product equals the reported objective."""
    X = np.asarray(x, dtype=np.float64)
    Y = X if symmetric else np.asarray(y, dtype=np.float64)
    for i, j in itertools.product(range(len(X)), range(len(Y))):
        p = perm[i, j]
        assert np.array_equal(np.sort(p), np.arange(X.shape[1]))
        assert np.einsum("sc,sc->", X[i], Y[j][p]) == pytest.approx(objective[i, j], rel=rtol, abs=1e-9)


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize("symmetric", [True, False])
def test_matchers_match_cpu_engine_on_exact_ties(matcher, symmetric, rng):
    x = small_integers(rng, (7, 10, 5))
    y = None if symmetric else small_integers(rng, (5, 10, 5))
    options = dict(matcher=matcher, window=4, topk=3, return_perm=True, return_bound=True)
    rsm, perm, bound = arrays_rsm(x, y, **options)
    ref, ref_perm, ref_bound = semrsm.semantic_rsm(x, y, kernel="inner", layout="NSC", progress=False,
                                                   device="cpu", **options)
    np.testing.assert_array_equal(rsm, ref)  # integer features: every sum is exact
    check_perm_attains(x, y, perm, rsm, symmetric)
    if matcher == "greedy":  # the same tie rule, tie for tie (exact solvers may break ties otherwise)
        np.testing.assert_array_equal(perm, ref_perm)
    assert (bound >= rsm).all()
    if matcher == "auction":  # exact on integers; the CPU's bound is raised by an ascent step (row_minima.h)
        assert (ref_bound >= rsm).all()
    else:
        np.testing.assert_allclose(bound, ref_bound, rtol=1e-12, atol=1e-9)


def test_near_exact_is_solved_exactly_by_the_array_steps(rng):
    # The GPU's auction has no stop at a certified gap: it keeps near_exact's promise by exactness.
    x = rng.standard_normal((6, 12, 4)).astype(np.float32)
    got, bound = arrays_rsm(x, None, matcher="near_exact", return_bound=True)
    want, want_bound = arrays_rsm(x, None, matcher="exact", return_bound=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(bound, want_bound)


@pytest.mark.parametrize("matcher,options", [("jv", {}), ("greedy", {}), ("topk_greedy", {"topk": 4}),
                                             ("batch_optimal", {"window": 3}), ("batch_optimal", {"window": 64})])
def test_float64_features_and_kernels(matcher, options, rng):
    x = rng.standard_normal((6, 3, 3, 3))  # NCHW: S = 9, C = 3
    y = rng.standard_normal((4, 3, 3, 3))
    for other in (None, y):
        got = arrays_rsm(x, other, kernel=["inner", "cosine", "rbf"], layout="NCHW", matcher=matcher, **options)
        ref = semrsm.semantic_rsm(x, other, kernel=["inner", "cosine", "rbf"], matcher=matcher, progress=False,
                                  device="cpu", **options)
        for name in ref:
            np.testing.assert_allclose(got[name], ref[name], rtol=1e-11, atol=1e-11)


def test_exact_matchers_equal_brute_force(rng):
    x = rng.standard_normal((5, 6, 4)).astype(np.float32)
    rsm = arrays_rsm(x, matcher="jv")
    X = x.astype(np.float64)
    for i, j in itertools.product(range(5), repeat=2):
        rows, cols = linear_sum_assignment(X[i] @ X[j].T, maximize=True)
        assert rsm[i, j] == pytest.approx((X[i] @ X[j].T)[rows, cols].sum(), rel=1e-5)


def test_requested_permutations(rng):
    x = small_integers(rng, (5, 8, 3))
    pairs = [(0, 3), (3, 0), (2, 2), (4, 1)]
    for matcher in ("greedy", "batch_optimal"):
        rsm, perm = arrays_rsm(x, matcher=matcher, window=3, return_perm=pairs)
        _, full = arrays_rsm(x, matcher=matcher, window=3, return_perm=True)
        assert perm.shape == (4, 8)
        for k, (i, j) in enumerate(pairs):
            np.testing.assert_array_equal(perm[k], full[i, j])
        np.testing.assert_array_equal(full[3, 0], np.argsort(full[0, 3]))  # (j, i) is the inverse


class FakeOutOfMemory(Exception):
    pass


def limited_ops(max_pairs):
    """NumPy ops whose cost blocks 'run out of memory' for chunks of more than max_pairs pairs,
    recording the chunk sizes they were asked for."""
    base = numpy_ops()
    asked = []

    def blocks(positions, a, b):
        asked.append(len(a))
        if len(a) > max_pairs:
            raise FakeOutOfMemory
        return base.blocks(positions, a, b)

    released = []
    ops = dataclasses.replace(base, blocks=blocks, out_of_memory=(FakeOutOfMemory,),
                              release=lambda: released.append(True))
    return ops, asked, released


def test_out_of_memory_halves_the_chunk(rng):
    x = rng.standard_normal((12, 6, 4)).astype(np.float32)
    ops, asked, released = limited_ops(max_pairs=5)
    got = arrays_rsm(x, ops=ops, matcher="greedy", return_bound=True)
    ref = arrays_rsm(x, matcher="greedy", return_bound=True)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    # All 66 pairs at once, halved until a chunk fits, then chunks of that size to the end.
    assert asked[:5] == [66, 33, 16, 8, 4] and max(asked[5:]) <= 4 and len(released) == 4
    assert sum(asked[4:]) == 66


def test_out_of_memory_for_one_pair_is_a_memory_error(rng):
    ops, _, _ = limited_ops(max_pairs=0)
    with pytest.raises(MemoryError, match="not even one pair"):
        arrays_rsm(rng.standard_normal((3, 4, 2)), ops=ops)


def test_max_memory_sizes_the_chunks(rng):
    x = rng.standard_normal((10, 8, 4)).astype(np.float32)
    per_pair = bytes_per_pair(8, 4, 4, "jv", 128, 128, True, False)
    ops, asked, _ = limited_ops(max_pairs=10**9)
    got = arrays_rsm(x, ops=ops, max_memory=7 * per_pair)
    assert max(asked) == 7 and sum(asked) == 45
    np.testing.assert_allclose(got, arrays_rsm(x), rtol=1e-12)
    with pytest.raises(ValueError, match="too small for one pair"):
        arrays_rsm(x, max_memory=per_pair - 1)


def test_bytes_per_pair_counts_only_the_blocks_a_matcher_builds():
    full = bytes_per_pair(3136, 256, 4, "jv", 128, 128, False, False)
    windows = bytes_per_pair(3136, 256, 4, "batch_optimal", 128, 128, False, False)
    topk = bytes_per_pair(3136, 256, 4, "topk_greedy", 128, 3000, False, False)
    assert full > 4 * 3136 ** 2 and windows < full / 20
    assert 4 * (3000 ** 2 + 136 ** 2) < topk < full
    assert bytes_per_pair(196, 512, 4, "jv", 128, 128, True, False) - bytes_per_pair(
        196, 512, 4, "jv", 128, 128, False, False) >= 2 * 196 * 512 * 4


def test_device_is_checked(rng):
    x = rng.standard_normal((3, 4, 2))
    with pytest.raises(ValueError, match="device must be"):
        semrsm.semantic_rsm(x, layout="NSC", device="gpu")
    if not semrsm.backends()["cuda"]["available"]:
        with pytest.raises(RuntimeError, match="CUDA engine is not available"):
            semrsm.semantic_rsm(x, layout="NSC", device="cuda")
