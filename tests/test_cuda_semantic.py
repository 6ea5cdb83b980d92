"""semrsm.semantic_rsm and semrsm.rsm on CuPy arrays (the GPU engine) against the CPU engine; skipped
without a GPU."""

import numpy as np
import pytest

import semrsm
from cuda_support import cupy_or_skip
from semrsm.datasets import semantic_features

pytestmark = pytest.mark.cuda

cp = cupy_or_skip()

MATCHERS = [("jv", {}), ("auction", {}), ("greedy", {}), ("topk_greedy", {"topk": 5}),
            ("batch_optimal", {"window": 4}), ("batch_optimal", {"window": 16})]


@pytest.mark.parametrize("matcher,options", MATCHERS)
@pytest.mark.parametrize("symmetric", [True, False])
def test_integer_features_equal_cpu_engine(matcher, options, symmetric, rng):
    x = rng.integers(-3, 4, size=(9, 12, 6)).astype(np.float32)
    y = None if symmetric else rng.integers(-3, 4, size=(5, 12, 6)).astype(np.float32)
    settings = dict(kernel="inner", layout="NSC", matcher=matcher, return_perm=True, return_bound=True,
                    progress=False, **options)
    rsm, perm, bound = semrsm.semantic_rsm(cp.asarray(x), None if y is None else cp.asarray(y), **settings)
    ref, ref_perm, ref_bound = semrsm.semantic_rsm(x, y, device="cpu", **settings)
    assert isinstance(rsm, cp.ndarray) and isinstance(perm, cp.ndarray) and isinstance(bound, cp.ndarray)
    np.testing.assert_array_equal(rsm.get(), ref)  # exact sums: the same optimum
    if matcher == "greedy":
        np.testing.assert_array_equal(perm.get(), ref_perm)
    X = x.astype(np.float64)
    Y = X if y is None else y.astype(np.float64)
    p = perm.get()
    for i in range(len(X)):
        for j in range(len(Y)):
            assert np.einsum("sc,sc->", X[i], Y[j][p[i, j]]) == ref[i, j]
    assert (bound.get() >= ref - 1e-9).all()


@pytest.mark.parametrize("matcher,options", MATCHERS)
def test_relu_features_match_cpu_engine(matcher, options):
    x = semantic_features(12, 7, 32, seed=1)  # (12, 32, 7, 7): S = 49
    got = semrsm.semantic_rsm(cp.asarray(x), kernel=["inner", "cosine", "rbf"], matcher=matcher, progress=False,
                              **options)
    ref = semrsm.semantic_rsm(x, kernel=["inner", "cosine", "rbf"], matcher=matcher, progress=False, **options)
    for name in ref:
        np.testing.assert_allclose(got[name].get(), ref[name], rtol=2e-5, atol=2e-5)


def test_float64_numpy_input_on_device_cuda(rng):
    x = rng.standard_normal((6, 10, 5))
    got = semrsm.semantic_rsm(x, layout="NSC", device="cuda", progress=False)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, semrsm.semantic_rsm(x, layout="NSC", progress=False), rtol=1e-12)


def test_small_memory_budget_gives_the_same_rsm(rng):
    x = cp.asarray(rng.standard_normal((20, 16, 8)).astype(np.float32))
    whole = semrsm.semantic_rsm(x, layout="NSC", progress=False)
    chunked = semrsm.semantic_rsm(x, layout="NSC", progress=False, max_memory=40_000)  # a few pairs a chunk
    cp.testing.assert_allclose(chunked, whole, rtol=1e-12)


def test_runs_on_the_current_stream(rng):
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        x = cp.asarray(rng.standard_normal((8, 9, 4)).astype(np.float32))
        rsm = semrsm.semantic_rsm(x, layout="NSC", progress=False)
    stream.synchronize()
    np.testing.assert_allclose(rsm.get(), semrsm.semantic_rsm(x.get(), layout="NSC", progress=False), rtol=2e-5)


def test_bad_input_on_the_gpu(rng):
    x = cp.asarray(rng.standard_normal((4, 5, 3)))
    x[2, 1, 0] = cp.nan
    with pytest.raises(ValueError, match=r"x\[2, 1, 0\] is nan"):
        semrsm.semantic_rsm(x, layout="NSC")
    with pytest.raises(ValueError, match="same positions"):
        semrsm.semantic_rsm(cp.ones((3, 4, 2)), cp.ones((3, 5, 2)), layout="NSC")
    with pytest.raises(TypeError, match="GPU array and device='cpu'"):
        semrsm.semantic_rsm(cp.ones((3, 4, 2)), layout="NSC", device="cpu")
    rsm, perm = semrsm.semantic_rsm(cp.ones((3, 4, 2)), layout="NSC", return_perm=cp.asarray([[0, 2]]))
    assert perm.shape == (1, 4)


def test_spatio_semantic_rsm_on_the_gpu(rng):
    x = rng.standard_normal((7, 3, 4, 4)).astype(np.float32)
    y = rng.standard_normal((5, 3, 4, 4))
    kernels = ["inner", "cosine", "rbf"]
    for other in (None, y):
        got = semrsm.rsm(cp.asarray(x), None if other is None else cp.asarray(other), kernel=kernels)
        ref = semrsm.rsm(x, other, kernel=kernels)
        for name in kernels:
            assert isinstance(got[name], cp.ndarray)
            np.testing.assert_allclose(got[name].get(), ref[name], rtol=1e-12, atol=1e-12)
    host = semrsm.rsm(x, device="cuda")
    assert isinstance(host, np.ndarray)
    np.testing.assert_allclose(host, semrsm.rsm(x), rtol=1e-12)
