"""The CUDA pair cost-block kernel (cuda/cost/pair_block.cu) against float64 NumPy; skipped without a GPU."""


import numpy as np
import pytest

import semrsm
from cuda_support import cupy_or_skip

pytestmark = pytest.mark.cuda

cp = cupy_or_skip()
from semrsm.semantic import _cuda  # noqa: E402


def reference(x, pairs):
    x = np.asarray(x, dtype=np.float64)
    return np.einsum("psc,ptc->pst", x[pairs[:, 0]], x[pairs[:, 1]])


def rel_error(out, ref):
    return np.linalg.norm(out - ref) / np.linalg.norm(ref)


@pytest.mark.parametrize("s,c", [(1, 1), (5, 3), (13, 37), (64, 64), (98, 16), (112, 24), (128, 100), (130, 40), (196, 512),
                                 (257, 33), (784, 64)])
def test_float32_matches_float64(s, c, rng):
    x = rng.standard_normal((6, s, c)).astype(np.float32)
    pairs = rng.integers(0, 6, size=(9, 2))
    out = _cuda.pair_cost_blocks(cp.asarray(x), cp.asarray(pairs)).get()
    ref = reference(x, pairs)
    assert out.shape == (9, s, s)
    assert rel_error(out, ref) < 1e-6
    assert np.abs(out - ref).max() <= 1e-5 * np.sqrt(c) * max(1.0, np.abs(ref).max())


@pytest.mark.parametrize("s,c", [(5, 3), (64, 64), (196, 512), (100, 70)])
def test_tf32_error_is_bounded(s, c, rng):
    x = np.maximum(rng.standard_normal((5, s, c)), 0).astype(np.float32)  # ReLU-like features
    pairs = rng.integers(0, 5, size=(7, 2))
    out = _cuda.pair_cost_blocks(cp.asarray(x), cp.asarray(pairs), tf32=True).get()
    err = rel_error(out, reference(x, pairs))
    print(f"tf32 relative error (s={s}, c={c}): {err:.2e}")
    assert err < 2e-3


def test_semantic_costs_from_blocks(rng):
    x = np.maximum(rng.standard_normal((4, 49, 32)), 0).astype(np.float32)
    pairs = np.array([[0, 1], [2, 3], [1, 1]])
    blocks = _cuda.pair_cost_blocks(cp.asarray(x), cp.asarray(pairs))
    result = semrsm.solve(-blocks)
    for p, (i, j) in enumerate(pairs):
        cpu = semrsm.solve(-(x[i] @ x[j].T))
        assert float(result.objective[p]) == pytest.approx(cpu.objective, rel=1e-5)


def test_out_argument_and_stream(rng):
    x = cp.asarray(rng.standard_normal((3, 20, 8)).astype(np.float32))
    pairs = cp.asarray([[0, 2], [1, 0]])
    stream = cp.cuda.Stream(non_blocking=True)
    with stream:
        out = cp.full((2, 20, 20), cp.nan, dtype=cp.float32)
        _cuda.pair_cost_blocks(x, pairs, out=out)
        total = out.sum()
    stream.synchronize()
    ref = reference(x.get(), pairs.get())
    np.testing.assert_allclose(out.get(), ref, rtol=1e-5, atol=1e-5)
    assert np.isfinite(float(total))


def test_bad_pairs_raise(rng):
    x = cp.asarray(rng.standard_normal((3, 4, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="index samples"):
        _cuda.pair_cost_blocks(x, cp.asarray([[0, 3]]))
    with pytest.raises(ValueError, match="shape"):
        _cuda.pair_cost_blocks(x, cp.asarray([0, 1]))
    with pytest.raises(ValueError, match="out must"):
        _cuda.pair_cost_blocks(x, cp.asarray([[0, 1]]), out=cp.empty((1, 4, 5), dtype=cp.float32))
    empty = _cuda.pair_cost_blocks(x, cp.zeros((0, 2), dtype=cp.int32))
    assert empty.shape == (0, 4, 4)
