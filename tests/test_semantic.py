"""semrsm.semantic_rsm against its definition, its invariances, and its approximations."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import semrsm
from semrsm.datasets import semantic_features

KERNELS = ["inner", "cosine", "rbf"]
APPROX = [("greedy", {}), ("topk_greedy", {"topk": 5}), ("batch_optimal", {"window": 4}), ("near_exact", {})]


def to_nsc(x, layout):
    if layout == "NCHW":
        return x.reshape(x.shape[0], x.shape[1], -1).transpose(0, 2, 1)
    return x


def brute_force(x, y, layout, sigma=None):
    """The definition: scipy per pair, then the kernels on the permuted vectors."""
    symmetric = y is None
    X = to_nsc(np.asarray(x, dtype=np.float64), layout)
    Y = X if symmetric else to_nsc(np.asarray(y, dtype=np.float64), layout)
    inner = np.empty((len(X), len(Y)))
    sq = np.empty_like(inner)
    cos = np.empty_like(inner)
    for i in range(len(X)):
        for j in range(len(Y)):
            rows, cols = linear_sum_assignment(X[i] @ Y[j].T, maximize=True)
            a, b = X[i][rows].ravel(), Y[j][cols].ravel()
            inner[i, j] = a @ b
            sq[i, j] = ((a - b) ** 2).sum()
            cos[i, j] = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    if sigma is None:
        d = sq[np.triu_indices(len(X), 1)] if symmetric else sq.ravel()
        s2 = np.median(d[d > 0])
    else:
        s2 = sigma ** 2
    return {"inner": inner, "cosine": cos, "rbf": np.exp(-sq / (2 * s2))}


def sample(layout, n, seed=0, S=(3, 3), C=4):
    rng = np.random.default_rng(seed)
    if layout == "NCHW":
        return rng.random((n, C) + S)
    return rng.random((n, S[0] * S[1], C))


@pytest.mark.parametrize("layout", ["NCHW", "NTD", "NSC"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_exact_equals_definition(layout, symmetric):
    x = sample(layout, 5, seed=1)
    y = None if symmetric else sample(layout, 4, seed=2)
    want = brute_force(x, y, layout)
    got = semrsm.semantic_rsm(x, y, kernel=KERNELS, layout=layout)
    for name in KERNELS:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-12, err_msg=name)
    single = semrsm.semantic_rsm(x, y, kernel="rbf", layout=layout, sigma=0.7)
    np.testing.assert_allclose(single, brute_force(x, y, layout, sigma=0.7)["rbf"], rtol=1e-6)


def test_float32_and_auction_match_exact():
    x = semantic_features(6, 5, 16, seed=3)
    want = semrsm.semantic_rsm(x.astype(np.float64), kernel="inner")
    np.testing.assert_allclose(semrsm.semantic_rsm(x, kernel="inner"), want, rtol=1e-5)
    np.testing.assert_allclose(semrsm.semantic_rsm(x, kernel="inner", matcher="auction"), want, rtol=1e-5)


def test_permuting_positions_changes_baseline_not_semantic():
    x = semantic_features(6, 4, 8, seed=0).astype(np.float64)
    rng = np.random.default_rng(0)
    shuffled = x.reshape(6, 8, 16).copy()
    for k in range(len(shuffled)):
        shuffled[k] = shuffled[k][:, rng.permutation(16)]
    shuffled = shuffled.reshape(x.shape)
    for matcher in ("jv", "auction"):
        np.testing.assert_allclose(semrsm.semantic_rsm(shuffled, matcher=matcher),
                                   semrsm.semantic_rsm(x, matcher=matcher), rtol=1e-9)
    assert np.abs(semrsm.rsm(shuffled) - semrsm.rsm(x)).max() > 1e-3


def test_shifted_copy_is_more_similar_semantically_than_spatially():
    x = semantic_features(1, 8, 16, seed=4).astype(np.float64)
    both = np.concatenate([x, np.roll(x, 3, axis=3)])
    assert semrsm.semantic_rsm(both)[0, 1] > semrsm.rsm(both)[0, 1] + 0.05
    np.testing.assert_allclose(semrsm.semantic_rsm(both)[0, 1], 1.0, rtol=1e-9)


@pytest.mark.parametrize("matcher,options", [("batch_optimal", {"window": 9}), ("batch_optimal", {"window": 50}),
                                             ("topk_greedy", {"topk": 9}), ("topk_greedy", {"topk": 100})])
def test_approximations_with_the_whole_block_are_exact(matcher, options):
    x = sample("NCHW", 5, seed=5)
    want = semrsm.semantic_rsm(x, kernel="inner")
    np.testing.assert_allclose(semrsm.semantic_rsm(x, kernel="inner", matcher=matcher, **options), want,
                               rtol=1e-12)


@pytest.mark.parametrize("matcher,options", APPROX)
def test_approximations_stay_below_optimum_and_bound(matcher, options):
    x = semantic_features(7, 4, 8, seed=6)
    y = semantic_features(5, 4, 8, seed=7)
    exact, exact_bound = semrsm.semantic_rsm(x, y, kernel="inner", return_bound=True)
    got, perm, bound = semrsm.semantic_rsm(x, y, kernel="inner", matcher=matcher, return_perm=True,
                                           return_bound=True, **options)
    slack = 1e-9 * np.abs(exact).max()
    assert (got <= exact + slack).all()
    assert (got <= bound).all() and (bound >= exact - slack).all()
    assert (exact_bound >= exact).all()
    # The permutations are permutations, and they produce the reported objective.
    X = to_nsc(x.astype(np.float64), "NCHW")
    Y = to_nsc(y.astype(np.float64), "NCHW")
    assert (np.sort(perm, axis=-1) == np.arange(16)).all()
    i, j = 3, 2
    np.testing.assert_allclose(got[i, j], np.einsum("sc,sc->", X[i], Y[j][perm[i, j]]), rtol=1e-9)


def test_near_exact_is_certified_within_its_gap_of_scipys_optimum():
    x = semantic_features(6, 14, 32, seed=9)  # S = 196: the auction stops phases before exactness
    X = to_nsc(x.astype(np.float64), "NCHW")
    got, perm, bound = semrsm.semantic_rsm(x, kernel="inner", matcher="near_exact", return_perm=True,
                                           return_bound=True)
    gap = semrsm.semantic.NEAR_EXACT_GAP
    iu = np.triu_indices(6, 1)
    optimum = np.array([(X[i] @ X[j].T)[linear_sum_assignment(X[i] @ X[j].T, maximize=True)].sum()
                        for i, j in zip(*iu)])
    objective, certified = got[iu], bound[iu]
    rounding = 1e-6 * optimum  # the blocks are float32, the objectives float64 sums of the vectors
    assert (objective <= optimum + rounding).all()
    assert (objective >= (1 - gap) * optimum - rounding).all()
    assert (certified >= optimum - rounding).all()
    assert (certified - objective <= gap * objective + rounding).all()
    assert (objective < optimum - rounding).any(), "near_exact ran to exactness on every pair"
    i, j = 1, 4
    np.testing.assert_allclose(got[i, j], np.einsum("sc,sc->", X[i], X[j][perm[i, j]]), rtol=1e-9)


def test_permutations_symmetric_and_requested_pairs():
    x = sample("NSC", 5, seed=8)
    rsm, perm, bound = semrsm.semantic_rsm(x, kernel="inner", layout="NSC", return_perm=True,
                                           return_bound=True)
    for i in range(5):
        for j in range(5):
            np.testing.assert_allclose(np.einsum("sc,sc->", x[i], x[j][perm[i, j]]), rsm[i, j], rtol=1e-9)
    np.testing.assert_array_equal(perm[2, 2], np.arange(9))
    np.testing.assert_allclose(rsm, rsm.T)
    pairs = [(0, 3), (3, 0), (1, 1)]
    _, some = semrsm.semantic_rsm(x, kernel="inner", layout="NSC", return_perm=pairs)
    np.testing.assert_array_equal(some, perm[tuple(np.array(pairs).T)])


def test_results_do_not_depend_on_threads_or_memory():
    x = semantic_features(9, 5, 8, seed=9)
    one = semrsm.semantic_rsm(x, threads=1, kernel="inner")
    two = semrsm.semantic_rsm(x, threads=2, kernel="inner", max_memory=200_000, progress=False)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("kwargs,message", [
    ({"matcher": "hungarian"}, "unknown matcher"),
    ({"kernel": "linear"}, "unknown kernel"),
    ({"layout": "NHWC"}, "unknown layout"),
    ({"window": 0}, "window"),
    ({"max_memory": 100}, "max_memory"),
    ({"sigma": -1.0}, "sigma"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        semrsm.semantic_rsm(np.ones((3, 2, 2, 2)), **kwargs)


def test_bad_arrays():
    x = np.ones((3, 2, 2, 2))
    with pytest.raises(ValueError, match="same positions S and channels C"):
        semrsm.semantic_rsm(x, np.ones((3, 2, 3, 2)))
    with pytest.raises(ValueError, match="same positions S and channels C"):
        semrsm.semantic_rsm(x, np.ones((3, 4, 2, 2)))
    bad = x.copy()
    bad[1, 0, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"x\[1, 0, 1, 0\] is nan"):
        semrsm.semantic_rsm(bad)
    with pytest.raises(ValueError, match="empty"):
        semrsm.semantic_rsm(np.ones((0, 2, 2, 2)))
    with pytest.raises(ValueError, match="must be 4-D for layout 'NCHW'.*layout=None chooses from the shape"):
        semrsm.semantic_rsm(np.ones((3, 4, 2)), layout="NCHW")
    with pytest.raises(ValueError, match=r"shape \(3,\); semantic RSMs take"):
        semrsm.semantic_rsm(np.ones(3))


def test_layout_follows_the_shape_when_not_given(rng):
    maps = rng.random((4, 3, 2, 5))
    positions = np.ascontiguousarray(maps.reshape(4, 3, 10).transpose(0, 2, 1))
    np.testing.assert_array_equal(semrsm.semantic_rsm(maps), semrsm.semantic_rsm(maps, layout="NCHW"))
    np.testing.assert_array_equal(semrsm.semantic_rsm(positions), semrsm.semantic_rsm(maps))
    np.testing.assert_array_equal(semrsm.semantic_rsm(positions, layout="NTD"), semrsm.semantic_rsm(maps))
    # A 2-D (N, D) layer has one position: no permutation to search, the spatio-semantic RSM.
    vectors = rng.random((6, 7))
    for kernel in ("inner", "cosine", "rbf"):
        np.testing.assert_allclose(semrsm.semantic_rsm(vectors, kernel=kernel), semrsm.rsm(vectors, kernel=kernel),
                                   rtol=1e-12)
    huge = np.full((3, 2, 2, 2), 1e160)  # inner products of 8e320, past float64: cosines of 1
    np.testing.assert_allclose(semrsm.semantic_rsm(huge), np.ones((3, 3)), rtol=1e-15)
    with pytest.raises(ValueError, match="inner kernel cannot be represented"):
        semrsm.semantic_rsm(huge, kernel="inner")


def test_float32_features_whose_products_overflow_float32_are_solved_in_float64():
    rng = np.random.default_rng(3)
    x = np.maximum(rng.normal(size=(5, 4, 3, 3)), 0) * 1e20  # inner products ~1e40 > float32's 3.4e38
    for matcher in ("jv", "auction", "greedy", "batch_optimal"):
        got = semrsm.semantic_rsm(x.astype(np.float32), kernel="cosine", matcher=matcher, window=4)
        want = semrsm.semantic_rsm(x.astype(np.float32).astype(np.float64), kernel="cosine", matcher=matcher,
                                   window=4)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_ctrl_c_stops_quickly_and_leaves_no_threads():
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, threading, numpy as np, semrsm\n"
        "x = np.random.default_rng(0).random((100, 400, 64)).astype(np.float32)\n"
        "print('started', flush=True)\n"
        "try:\n"
        "    semrsm.semantic_rsm(x, layout='NSC', progress=False)\n"
        "except KeyboardInterrupt:\n"
        "    import time\n"
        "    cpu = time.process_time()\n"
        "    time.sleep(0.5)\n"
        "    busy = time.process_time() - cpu > 0.1  # an engine thread still computing\n"
        "    print('interrupted', threading.active_count(), busy, flush=True)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    time.sleep(0.5)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=30)
    assert out.split() == ["interrupted", "1", "False"]
    assert time.monotonic() - sent < 5.5  # generous for a loaded CI machine; typically ~0.1 s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", [1, 2, 3])
def test_cost_block_kernels_match_numpy(isa, dtype):
    """Every GEMM kernel the CPU runs (portable, AVX2, AVX-512), on sizes that leave partial tiles."""
    from semrsm import _core

    rng = np.random.default_rng(isa)
    a = rng.normal(size=(3, 37, 19)).astype(dtype)
    b = rng.normal(size=(3, 41, 19)).astype(dtype)
    try:
        got = _core.negated_cost_blocks(a, b, 2, isa)
    except ValueError:
        if isa == 1:  # the portable kernel runs everywhere
            raise
        pytest.skip("this CPU lacks the instruction set")
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, -np.matmul(a, b.transpose(0, 2, 1)), rtol=tol, atol=tol)
