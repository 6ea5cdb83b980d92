"""Semantic and spatio-semantic RSMs at the extremes of floating point: tiny and huge samples give
what the same samples give at scale 1 (optimal permutations do not depend on the scale, nor does
the cosine), on the C++ engine and on the GPU engine's array steps run on NumPy; identical samples
are at distance 0; bandwidths of any size; what a zero sample gives."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import semrsm
from semrsm.kernels import kernels_from_objective
from test_semantic_arrays import arrays_rsm

MATCHERS = ["exact", "auction", "greedy", "topk_greedy", "batch_optimal"]
ENGINES = {"cpu": lambda x, y=None, **kw: semrsm.semantic_rsm(x, y, progress=False, **kw),
           "arrays": lambda x, y=None, **kw: arrays_rsm(x, y, **{"kernel": "cosine", **kw})}


def relu_maps(seed=0, n=6):
    return np.maximum(np.random.default_rng(seed).normal(size=(n, 9, 5)), 0).astype(np.float64) + 0.01


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("matcher", MATCHERS)
def test_tiny_and_huge_samples_give_the_rsm_of_scale_one(matcher, engine):
    run = ENGINES[engine]
    x = relu_maps()
    options = dict(matcher=matcher, window=4, topk=3, return_perm=True, return_bound=True)
    # powers of two near 1e-22, 1e-25 (float32 and float64), 1e-162 and 1e150 (float64): exact scalings
    for dtype, exponents in ((np.float32, (-73, -83)), (np.float64, (-73, -83, -538, 498))):
        base = x.astype(dtype)
        rsms, perm, bound = run(base, kernel=["cosine", "inner", "rbf"], **options)
        for exponent in exponents:
            scaled = np.ldexp(base, exponent)
            got, got_perm, got_bound = run(scaled, kernel=["cosine", "inner", "rbf"], **options)
            np.testing.assert_array_equal(got_perm, perm)
            np.testing.assert_allclose(got["cosine"], rsms["cosine"], rtol=1e-13)
            np.testing.assert_allclose(got["rbf"], rsms["rbf"], rtol=1e-13)  # the median rule is invariant
            # back at the samples' scale exactly: subnormal or 0 where it underflows float64
            np.testing.assert_array_equal(got["inner"], np.ldexp(rsms["inner"], 2 * exponent))
            np.testing.assert_array_equal(got_bound, np.ldexp(bound, 2 * exponent))
        # the decimal scales of the report, rounded in the samples' dtype: the RSM to that rounding
        for scale in (1e-22, 1e-25) if dtype == np.float32 else (1e-22, 1e-25, 1e-162, 1e150):
            got = run((x * scale).astype(dtype), kernel="cosine", matcher=matcher, window=4, topk=3)
            np.testing.assert_allclose(got, rsms["cosine"], rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_samples_of_different_magnitudes_in_one_call(engine):
    run = ENGINES[engine]
    x = relu_maps(1, n=7)
    exponents = np.array([0, -600, 450, -100, 30, 0, -1000])[:, None, None]
    mixed = np.ldexp(x, exponents)
    for matcher in MATCHERS:
        want, want_perm = run(x, kernel="cosine", matcher=matcher, window=4, topk=3, return_perm=True)
        got, perm = run(mixed, kernel="cosine", matcher=matcher, window=4, topk=3, return_perm=True)
        np.testing.assert_array_equal(perm, want_perm)
        np.testing.assert_allclose(got, want, rtol=1e-13)
        y = np.ldexp(x[:4], 200)
        np.testing.assert_allclose(run(mixed, y, kernel="cosine", matcher=matcher, window=4, topk=3),
                                   run(x, x[:4], kernel="cosine", matcher=matcher, window=4, topk=3), rtol=1e-13)


def test_spatio_semantic_rsm_at_any_scale():
    x = relu_maps(2).reshape(6, -1)
    want = semrsm.rsm(x, kernel=["cosine", "rbf", "inner"])
    for exponent in (-1000, -538, -73, 100, 498):
        got = semrsm.rsm(np.ldexp(x, exponent), kernel=["cosine", "rbf", "inner"])
        np.testing.assert_allclose(got["cosine"], want["cosine"], rtol=1e-13)
        np.testing.assert_allclose(got["rbf"], want["rbf"], rtol=1e-13)
        np.testing.assert_array_equal(got["inner"], np.ldexp(want["inner"], 2 * exponent))
    per_sample = np.ldexp(x, np.array([0, -900, 300, 5, -5, 0])[:, None])
    np.testing.assert_allclose(semrsm.rsm(per_sample), want["cosine"], rtol=1e-13)


def test_inner_products_beyond_float64_are_a_clear_error():
    x = np.ldexp(relu_maps(3), 520)
    np.testing.assert_allclose(semrsm.semantic_rsm(x), semrsm.semantic_rsm(relu_maps(3)), rtol=1e-13)
    for kernel in ("inner", ["cosine", "inner"]):
        with pytest.raises(ValueError, match=r"the inner kernel cannot be represented: the inner product of x\[0\] "
                                             r"and y\[0\] exceeds float64"):
            semrsm.semantic_rsm(x, kernel=kernel)
    with pytest.raises(ValueError, match="the bound cannot be represented"):
        semrsm.semantic_rsm(x, return_bound=True)
    with pytest.raises(ValueError, match="the inner kernel cannot be represented"):
        semrsm.rsm(x.reshape(6, -1), kernel="inner")


def test_subnormal_samples_finish_on_every_matcher():
    """Once cost blocks of float64 samples of 1e-162 (subnormal products) hung the solvers; they are
    rescaled now. Run where a hang fails the test instead of stalling it."""
    script = textwrap.dedent("""
        import numpy as np, semrsm
        x = np.maximum(np.random.default_rng(0).normal(size=(6, 9, 5)), 0) + 0.01
        want = semrsm.semantic_rsm(x)
        for matcher in ("exact", "auction", "greedy", "topk_greedy", "batch_optimal"):
            for scale in (1e-162, 5e-324 / 0.01):
                got = semrsm.semantic_rsm(x * scale, matcher=matcher, window=4, topk=3)
                ref = semrsm.semantic_rsm(x, matcher=matcher, window=4, topk=3)
                assert np.abs(got - ref).max() < (1e-12 if scale == 1e-162 else 1.0), (matcher, scale)
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ---------------------------------------------------------------------------------------------
# Distances within rounding, bandwidths of any size, zero samples


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identical_samples_have_rbf_one(dtype):
    rng = np.random.default_rng(4)
    for trial in range(10):
        one = rng.normal(size=(1, 7, 13)).astype(dtype)
        x = np.repeat(one, 5, axis=0)  # every distance is 0, and so every value 1
        for matcher in MATCHERS:
            for run in ENGINES.values():
                assert (run(x, x.copy(), kernel="rbf", matcher=matcher, window=3, topk=2) == 1.0).all()
        assert (semrsm.rsm(x.reshape(5, -1), x.reshape(5, -1).copy(), kernel="rbf") == 1.0).all()
        # and next to other samples: the pairs of copies are at distance 0, not at the median
        others = np.concatenate([x, rng.normal(size=(3, 7, 13)).astype(dtype)])
        got = semrsm.semantic_rsm(others, others.copy(), kernel="rbf")
        assert (got[:5, :5] == 1.0).all() and (got[:5, 5:] < 0.9).all()


def test_distances_above_the_rounding_bound_are_kept():
    x = np.ones((3, 4))
    x[1, 0] += 1e-6  # squared distance 1e-12, far above float64's rounding (about 1e-15 of the norms)
    sq = (x ** 2).sum(1)
    got = kernels_from_objective(x @ x.T, sq, sq, ["rbf"], symmetric=False, sigma=1e-6,
                                 rounding=1e-14)["rbf"]
    assert got[0, 1] == pytest.approx(np.exp(-0.5), rel=1e-3) and got[0, 2] == 1.0
    swallowed = kernels_from_objective(x @ x.T, sq, sq, ["rbf"], symmetric=False, sigma=1e-6,
                                       rounding=1e-12)["rbf"]
    assert swallowed[0, 1] == 1.0  # within that bound it cannot be told from 0


@pytest.mark.parametrize("sigma", [1e-300, 1e-200, 1e-160, 1e160, 1e200, 1e300])
def test_any_bandwidth_without_nan(sigma):
    x = relu_maps(5)
    for rsm in (semrsm.semantic_rsm(x, kernel="rbf", sigma=sigma), semrsm.rsm(x, kernel="rbf", sigma=sigma)):
        assert not np.isnan(rsm).any()
        want = np.eye(6) if sigma < 1 else np.ones((6, 6))
        np.testing.assert_array_equal(rsm, want)
    # a tiny bandwidth for tiny samples: the same kernel as at scale 1
    tiny = np.ldexp(x, -700)
    np.testing.assert_allclose(semrsm.semantic_rsm(tiny, kernel="rbf", sigma=2.0 ** -700),
                               semrsm.semantic_rsm(x, kernel="rbf", sigma=1.0), rtol=1e-13)


def test_all_zero_samples_have_cosine_zero_and_a_warning():
    x = relu_maps(6)
    x[2] = 0.0
    for run in (semrsm.semantic_rsm, semrsm.rsm):
        with pytest.warns(semrsm.UnreliableResultWarning, match=r"1 sample\(s\) of x are all zero \(the first: 2\)"):
            got = run(x)
        assert got[2].tolist() == [0.0] * 6 and got[:, 2].tolist() == [0.0] * 6
        assert np.diag(got)[[0, 1, 3, 4, 5]].tolist() == [1.0] * 5
        with pytest.warns(semrsm.UnreliableResultWarning, match="of y are all zero"):
            run(x[[0, 1]], x)
        with warnings.catch_warnings():
            warnings.simplefilter("error", semrsm.UnreliableResultWarning)
            assert run(x, kernel="rbf")[2, 2] == 1.0  # other kernels are defined
