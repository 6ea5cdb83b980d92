"""semrsm.rsm: the spatio-semantic baseline."""

import numpy as np
import pytest

import semrsm


def test_rsm_flattens_and_applies_kernels():
    rng = np.random.default_rng(0)
    x = rng.random((5, 3, 2, 2))
    y = rng.random((4, 3, 2, 2))
    fx, fy = x.reshape(5, -1), y.reshape(4, -1)
    got = semrsm.rsm(x, y, kernel=["inner", "cosine", "rbf"], sigma=1.5)
    np.testing.assert_allclose(got["inner"], fx @ fy.T)
    np.testing.assert_allclose(got["cosine"], (fx @ fy.T) / np.outer(np.linalg.norm(fx, axis=1),
                                                                      np.linalg.norm(fy, axis=1)))
    dist = ((fx[:, None] - fy[None]) ** 2).sum(-1)
    np.testing.assert_allclose(got["rbf"], np.exp(-dist / (2 * 1.5 ** 2)))
    sym = semrsm.rsm(x, kernel="rbf")
    d = ((fx[:, None] - fx[None]) ** 2).sum(-1)
    np.testing.assert_allclose(sym, np.exp(-d / (2 * np.median(d[np.triu_indices(5, 1)]))), atol=1e-12)


def test_rsm_errors():
    with pytest.raises(ValueError, match="features per sample"):
        semrsm.rsm(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="is inf"):
        semrsm.rsm(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="unknown kernel"):
        semrsm.rsm(np.ones((2, 3)), kernel="cka")


def test_rsm_of_float32_input_makes_no_float64_copy_of_it():
    import tracemalloc

    # 64 MiB of float32: a float64 copy would be 128 MiB; blocks of columns take 32 MiB at a time
    x = np.random.default_rng(0).random((64, 256, 32, 32), dtype=np.float32)
    tracemalloc.start()
    try:
        semrsm.rsm(x, kernel=["inner", "rbf"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.25 * x.nbytes  # blocks and checks: about 1x; with a float64 copy: over 2x


def test_rsm_device_is_checked():
    with pytest.raises(ValueError, match="device must be"):
        semrsm.rsm(np.ones((2, 3)), device="gpu")
    if not semrsm.backends()["cuda"]["available"]:
        with pytest.raises(RuntimeError, match="CUDA engine is not available"):
            semrsm.rsm(np.ones((2, 3)), device="cuda")
