"""CKA: the properties of Kornblith et al. (2019), the unbiased estimator, minibatches, errors."""


import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import semrsm
from semrsm import _gram
from semrsm.cka import MinibatchCKA, Prepared, gram_linear, gram_rbf


def features(n, d, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def related(n=60, d1=12, d2=20, seed=0, noise=1.0):
    """Two representations that share a signal, so their CKA is well inside (0, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d1))
    y = x @ rng.normal(size=(d1, d2)) + noise * rng.normal(size=(n, d2))
    return x, y


def orthogonal(d, seed=1):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


# Reference: the code published with Kornblith et al. (2019), written out again.
def ref_center(gram, unbiased):
    gram = gram.copy()
    n = gram.shape[0]
    if unbiased:
        np.fill_diagonal(gram, 0)
        means = gram.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = gram.mean(0)
        means -= means.mean() / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def ref_cka(k, l, debiased=False):
    k, l = ref_center(k, debiased), ref_center(l, debiased)
    return k.ravel() @ l.ravel() / (np.linalg.norm(k) * np.linalg.norm(l))


def song_unbiased_hsic(k, l):
    """Song et al. (2012), eq. 5, term by term."""
    n = k.shape[0]
    kt, lt = k.copy(), l.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    one = np.ones(n)
    return (np.trace(kt @ lt) + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (one @ kt @ lt @ one)) / (n * (n - 3))


def song_cka(k, l):
    return song_unbiased_hsic(k, l) / np.sqrt(song_unbiased_hsic(k, k) * song_unbiased_hsic(l, l))


# ---------------------------------------------------------------------------------------------
# Agreement with the reference and between paths


@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_matches_reference(debiased):
    x, y = related()
    expected = ref_cka(x @ x.T, y @ y.T, debiased)
    for method in ("auto", "features", "gram"):
        assert semrsm.linear_cka(x, y, debiased=debiased, method=method) == pytest.approx(expected, abs=1e-12)
    assert semrsm.cka(x @ x.T, y @ y.T, debiased=debiased) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("threshold", [0.4, 1.0])
@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_rbf_cka_matches_reference(threshold, debiased):
    x, y = related()

    def ref_rbf(f, median):  # median over distinct pairs (no two samples coincide here) or all N^2
        sq = ((f[:, None, :] - f[None, :, :]) ** 2).sum(-1)
        m = np.median(sq if median == "all" else sq[np.triu_indices(len(f), 1)])
        return np.exp(-sq / (2 * threshold ** 2 * m))

    for median in ("all", "distinct"):
        expected = ref_cka(ref_rbf(x, median), ref_rbf(y, median), debiased)
        got = semrsm.rbf_cka(x, y, threshold=threshold, debiased=debiased, median=median)
        assert got == pytest.approx(expected, abs=1e-12)
        assert gram_rbf(x, threshold, median=median) == pytest.approx(ref_rbf(x, median), abs=1e-12)
    assert semrsm.rbf_cka(x, y, threshold, debiased) == semrsm.rbf_cka(x, y, threshold, debiased, median="all")


def test_linear_cka_equals_kernel_cka_with_linear_grams():
    x, y = related(n=40, d1=70, d2=5, seed=3)  # one side wider than N, one narrower
    for debiased in (False, True):
        assert semrsm.linear_cka(x, y, debiased) == pytest.approx(
            semrsm.cka(gram_linear(x), gram_linear(y), debiased), abs=1e-12)


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
@settings(max_examples=25, deadline=None)
@given(n=st.integers(6, 40), d1=st.integers(1, 60), d2=st.integers(1, 60), seed=st.integers(0, 2**16),
       debiased=st.booleans())
def test_feature_and_gram_paths_agree(n, d1, d2, seed, debiased):
    x, y = related(n, d1, d2, seed)
    values = [semrsm.linear_cka(x, y, debiased, method) for method in ("features", "gram", "auto")]
    assert values[0] == pytest.approx(values[1], abs=1e-10)
    assert values[2] == pytest.approx(values[1], abs=1e-10)


def test_mixed_feature_and_gram_sides():
    # auto keeps X (D < N) as features and Y (D > N) as a Gram matrix
    x, y = related(n=30, d1=10, d2=80, seed=4)
    for debiased in (False, True):
        a = Prepared.from_features(x, debiased, "X")
        b = Prepared.from_features(y, debiased, "Y")
        assert a.features is not None and b.gram is not None
        assert semrsm.linear_cka(x, y, debiased) == pytest.approx(ref_cka(x @ x.T, y @ y.T, debiased), abs=1e-12)


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_gram_built_from_column_blocks(monkeypatch):
    """The CPU Gram path converts, centres and accumulates X one block of columns at a time."""

    rng = np.random.default_rng(0)
    x = rng.normal(size=(37, 3, 5, 7)).astype(np.float32) + 2.0  # D = 105 > N: the Gram path
    y = rng.normal(size=(37, 50))
    whole = [semrsm.linear_cka(x, y, debiased) for debiased in (False, True)] + [semrsm.rbf_cka(x, y)]
    xc = x.reshape(37, -1).astype(np.float64)
    xc -= xc.mean(0)
    monkeypatch.setattr(_gram, "BLOCK_VALUES", 37 * 8)  # 8 columns a block, 14 blocks
    monkeypatch.setattr(_gram, "MIRROR_ROWS", 5)
    gram, exponent = _gram.centered_gram(x.reshape(37, -1), "X", np)
    assert np.ldexp(gram, 2 * exponent) == pytest.approx(xc @ xc.T, abs=1e-11)
    blocks = [semrsm.linear_cka(x, y, debiased) for debiased in (False, True)] + [semrsm.rbf_cka(x, y)]
    assert blocks == pytest.approx(whole, abs=1e-12)
    bad = x.copy()
    bad[4, 2, 3, 1] = np.nan
    with pytest.raises(ValueError, match=r"X\[4, 2, 3, 1\] is nan"):
        semrsm.linear_cka(bad, y)
    with pytest.raises(ValueError, match="constant across samples"):
        semrsm.linear_cka(np.ones((37, 105), dtype=np.float32), y)
    # past the square root of float64's range, through the blocks as well
    huge = rng.uniform(size=(37, 105))
    assert semrsm.linear_cka(huge * 1e300, y) == pytest.approx(semrsm.linear_cka(huge, y), rel=1e-12)


@pytest.mark.parametrize("n", [4, 5, 9, 16])
def test_debiased_equals_literal_unbiased_hsic(n):
    x, y = related(n=n, d1=3, d2=7, seed=n)
    k, l = x @ x.T, y @ y.T
    expected = song_cka(k, l)
    assert semrsm.cka(k, l, debiased=True) == pytest.approx(expected, abs=1e-10)
    assert semrsm.linear_cka(x, y, debiased=True, method="features") == pytest.approx(expected, abs=1e-10)
    k2, l2 = gram_rbf(x), gram_rbf(y)
    assert semrsm.cka(k2, l2, debiased=True) == pytest.approx(song_cka(k2, l2), abs=1e-10)


# ---------------------------------------------------------------------------------------------
# Properties of CKA (Kornblith et al., section 2)


@pytest.mark.parametrize("measure", [semrsm.linear_cka, semrsm.rbf_cka])
@pytest.mark.parametrize("debiased", [False, True])
def test_self_similarity_is_one(measure, debiased):
    x = features(50, 8)
    assert measure(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)
    assert semrsm.cka(x @ x.T, x @ x.T, debiased=debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("measure", [semrsm.linear_cka, semrsm.rbf_cka])
@pytest.mark.parametrize("debiased", [False, True])
def test_symmetry(measure, debiased):
    x, y = related()
    assert measure(x, y, debiased=debiased) == pytest.approx(measure(y, x, debiased=debiased), abs=1e-13)


@pytest.mark.parametrize("measure", [semrsm.linear_cka, semrsm.rbf_cka])
@pytest.mark.parametrize("debiased", [False, True])
def test_invariant_to_orthogonal_maps_and_isotropic_scaling(measure, debiased):
    x, y = related(d1=12, d2=20)
    base = measure(x, y, debiased=debiased)
    assert measure(x @ orthogonal(12), y, debiased=debiased) == pytest.approx(base, abs=1e-11)
    assert measure(x, y @ orthogonal(20, seed=2), debiased=debiased) == pytest.approx(base, abs=1e-11)
    assert measure(3.7 * x, y, debiased=debiased) == pytest.approx(base, abs=1e-11)
    assert measure(x, 0.02 * y, debiased=debiased) == pytest.approx(base, abs=1e-11)
    # and to translation (the mean is removed)
    assert measure(x + 5.0, y, debiased=debiased) == pytest.approx(base, abs=1e-10)


def test_not_invariant_to_invertible_linear_maps():
    x, y = related()
    a = np.random.default_rng(5).normal(size=(12, 12))
    a[:, 0] *= 20.0  # well conditioned enough to be invertible, far from orthogonal
    assert abs(np.linalg.det(a)) > 1e-3
    assert abs(semrsm.linear_cka(x @ a, y) - semrsm.linear_cka(x, y)) > 0.05


def test_values_in_range_and_independent_data_low():
    x, y = features(500, 10, 1), features(500, 10, 2)
    assert 0.0 <= semrsm.linear_cka(x, y) < 0.1
    assert abs(semrsm.linear_cka(x, y, debiased=True)) < 0.02


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_higher_rank_inputs_are_flattened_per_sample():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3, 4, 5))
    y = rng.normal(size=(20, 7))
    assert semrsm.linear_cka(x, y) == semrsm.linear_cka(x.reshape(20, -1), y)
    assert semrsm.rbf_cka(x, y) == pytest.approx(semrsm.rbf_cka(x.reshape(20, -1), y), abs=1e-15)


def test_float32_and_integer_inputs_accumulate_in_float64():
    x, y = related()
    assert semrsm.linear_cka(x.astype(np.float32), y.astype(np.float32)) == pytest.approx(
        semrsm.linear_cka(x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)),
        abs=1e-14)
    xi = np.arange(40).reshape(10, 4) ** 2
    assert semrsm.linear_cka(xi, xi) == pytest.approx(1.0)


def test_cka_uses_the_symmetric_part_of_an_rsm():
    x, y = related()
    k, l = x @ x.T, y @ y.T
    noise = np.random.default_rng(0).normal(size=k.shape)
    for size, warns in ((0.5, False), (2.0, True)):  # centred antisymmetric parts 0.19 and 0.75 of the symmetric
        asym = k + size * (noise - noise.T)  # same symmetric part
        for debiased in (False, True):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert semrsm.cka(asym, l, debiased) == pytest.approx(semrsm.cka(k, l, debiased), abs=1e-12)
            assert [str(w.message)[:20] for w in caught] == (["K is not symmetric: "] if warns else [])


# ---------------------------------------------------------------------------------------------
# Errors: never a silent NaN


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_named(bad):
    x, y = related()
    x[3, 2] = bad
    with pytest.raises(ValueError, match=r"X\[3, 2\] is (nan|inf|-inf)"):
        semrsm.linear_cka(x, y)
    k = y @ y.T
    k[1, 4] = bad
    with pytest.raises(ValueError, match=r"L\[1, 4\]"):
        semrsm.cka(y @ y.T, k)


def test_constant_representations_raise():
    x = np.tile(np.arange(5.0), (30, 1))
    y = features(30, 4)
    for measure in (semrsm.linear_cka, semrsm.rbf_cka):
        with pytest.raises(ValueError, match="constant across samples"):
            measure(x, y)
    with pytest.raises(ValueError, match="constant across samples"):
        semrsm.linear_cka(y, x, debiased=True)
    with pytest.raises(ValueError, match="constant after centring"):
        semrsm.cka(np.ones((30, 30)), y @ y.T)
    # a constant column among others is fine
    assert np.isfinite(semrsm.linear_cka(np.c_[y, np.ones(30)], y))


def test_nothing_left_after_debiasing_raises():
    # the identity Gram matrix (orthogonal samples of equal norm) is all diagonal
    y = features(12, 3)
    with pytest.raises(ValueError, match="nothing left after debiasing"):
        semrsm.cka(np.eye(12), y @ y.T, debiased=True)
    with pytest.raises(ValueError, match="nothing left after debiasing"):
        semrsm.linear_cka(np.eye(12), y, debiased=True, method="features")
    with pytest.raises(ValueError, match="nothing left after debiasing"):
        semrsm.linear_cka(np.eye(12), y, debiased=True, method="gram")


def test_too_few_samples():
    with pytest.raises(ValueError, match="N >= 4"):
        semrsm.linear_cka(features(3, 2), features(3, 2), debiased=True)
    with pytest.raises(ValueError, match="N >= 4"):
        semrsm.cka(np.eye(3), np.eye(3), debiased=True)
    for n in (1, 2):  # of 2 samples CKA is 1 whatever they are
        for measure in (semrsm.linear_cka, semrsm.rbf_cka):
            with pytest.raises(ValueError, match="CKA needs at least 3: of 2 samples it is 1 whatever"):
                measure(features(n, 2), features(n, 3, seed=1))
        with pytest.raises(ValueError, match="CKA needs at least 3"):
            semrsm.cka(np.eye(n), np.eye(n))


def test_shape_and_type_errors():
    x, y = related()
    with pytest.raises(ValueError, match="same samples"):
        semrsm.linear_cka(x, y[:-1])
    with pytest.raises(ValueError, match="square"):
        semrsm.cka(x, y)
    with pytest.raises(ValueError, match="same samples"):
        semrsm.cka(x @ x.T, y[:-1] @ y[:-1].T)
    with pytest.raises(ValueError, match="feature axis"):
        semrsm.linear_cka(x[:, 0], y)
    with pytest.raises(ValueError, match="empty"):
        semrsm.linear_cka(np.empty((0, 3)), y)
    with pytest.raises(TypeError, match="complex"):
        semrsm.linear_cka(x.astype(complex), y)
    with pytest.raises(TypeError, match="non-numeric"):
        semrsm.linear_cka(np.array([["a", "b"]] * 5), y[:5])
    with pytest.raises(TypeError, match="could not be read"):
        semrsm.linear_cka([[1.0, 2.0], [3.0]], y)
    with pytest.raises(ValueError, match="unknown method"):
        semrsm.linear_cka(x, y, method="fast")
    with pytest.raises(TypeError, match="debiased"):
        semrsm.linear_cka(x, y, debiased="yes")
    with pytest.raises(ValueError, match="threshold"):
        semrsm.rbf_cka(x, y, threshold=0)
    with pytest.raises(TypeError, match="threshold"):
        semrsm.rbf_cka(x, y, threshold="wide")


def test_rbf_bandwidth_ignores_coinciding_samples_and_matches_rsm():
    x, y = related(n=30)
    x[:20] = x[0]  # most pairs coincide: the distinct median runs over the non-zero distances
    sq = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    median = np.median(sq[np.triu_indices(30, 1)][sq[np.triu_indices(30, 1)] > 0])
    assert gram_rbf(x, 0.5, median="distinct") == pytest.approx(np.exp(-sq / (2 * 0.25 * median)), abs=1e-12)
    assert semrsm.rbf_cka(x, y, median="distinct") == pytest.approx(
        semrsm.cka(semrsm.rsm(x, kernel="rbf"), semrsm.rsm(y, kernel="rbf")), abs=1e-10)
    # 410 of 900 entries are 0: the median over all of them is still positive, and lower
    assert gram_rbf(x, 0.5) == pytest.approx(np.exp(-sq / (2 * 0.25 * np.median(sq))), abs=1e-12)
    assert 0 < np.median(sq) < median
    x[:25] = x[0]  # now 630 of 900: the median over all N^2 entries is 0
    with pytest.raises(ValueError, match="most samples of X coincide.*median='distinct'"):
        semrsm.rbf_cka(x, y)
    with pytest.raises(ValueError, match="unknown median 'upper'; expected one of 'all', 'distinct'"):
        semrsm.rbf_cka(x, y, median="upper")


# ---------------------------------------------------------------------------------------------
# Minibatch CKA


def test_minibatch_one_batch_equals_full_debiased():
    x, y = related(n=80)
    acc = MinibatchCKA().update(x, y)
    assert acc.compute() == pytest.approx(semrsm.linear_cka(x, y, debiased=True), abs=1e-12)
    assert acc.batches == 1 and acc.samples == 80


def test_minibatch_many_batches_stay_close_to_full_batch():
    x, y = related(n=3000, d1=32, d2=48, seed=7, noise=3.0)
    full = semrsm.linear_cka(x, y, debiased=True)
    acc = MinibatchCKA()
    for start in range(0, 3000, 300):
        acc.update(x[start:start + 300], y[start:start + 300])
    assert acc.batches == 10
    assert acc.compute() == pytest.approx(full, abs=0.02)


def test_minibatch_uneven_batches_and_reset():
    x, y = related(n=103)
    acc = MinibatchCKA()
    for start in range(0, 103, 25):  # the last batch has 3 samples
        if 103 - start >= 4:
            acc.update(x[start:start + 25], y[start:start + 25])
    assert -1.0 <= acc.compute() <= 1.0
    acc.reset()
    with pytest.raises(ValueError, match="no batch"):
        acc.compute()


def test_minibatch_layers_give_the_matrix_of_every_pair():
    rng = np.random.default_rng(0)
    a = {"conv1": rng.normal(size=(64, 2, 3, 3)), "fc": rng.normal(size=(64, 10))}
    b = [a["fc"] @ rng.normal(size=(10, 6)), rng.normal(size=(64, 5)), a["conv1"][:, 0]]
    acc = MinibatchCKA().update(a, b)
    values = acc.compute()
    assert values.shape == (2, 3)
    assert acc.labels_a == ["conv1", "fc"] and acc.labels_b == ["0", "1", "2"]
    for i, x in enumerate(a.values()):
        for j, y in enumerate(b):
            assert values[i, j] == pytest.approx(semrsm.linear_cka(x, y, debiased=True), abs=1e-12)
    self_values = MinibatchCKA().update(a).compute()
    assert np.allclose(np.diag(self_values), 1.0) and np.allclose(self_values, self_values.T)


def test_minibatch_errors():
    x, y = related(n=40)
    with pytest.raises(ValueError, match="N >= 4"):
        MinibatchCKA().update(x[:3], y[:3])
    with pytest.raises(ValueError, match="same number of samples"):
        MinibatchCKA().update([x[:10]], [y[:10], y[:12]])
    acc = MinibatchCKA().update(x[:20], y[:20])
    with pytest.raises(ValueError, match="x of this batch differs from that of the first batch: layers .'0'. "
                                         "where the first had one array"):
        acc.update([x[20:]], [y[20:]])
    with pytest.raises(ValueError, match="no variance"):
        MinibatchCKA().update(np.ones((10, 3)), y[:10]).compute()
    with pytest.raises(ValueError, match="empty"):
        MinibatchCKA().update([], y)


# ---------------------------------------------------------------------------------------------
# CuPy: the same numbers, computed on the GPU. These need CuPy and a GPU but not semrsm's CUDA
# engine (CKA is array code), so they are not marked cuda and skip by themselves.


def cupy_or_skip():
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:
        pytest.skip("CuPy is installed but no GPU is usable")
    return cupy


def test_cupy_results_equal_numpy():
    cupy = cupy_or_skip()
    x, y = related(n=50, d1=12, d2=70)
    gx, gy = cupy.asarray(x), cupy.asarray(y)
    for debiased in (False, True):
        for method in ("auto", "features", "gram"):
            assert semrsm.linear_cka(gx, gy, debiased, method) == pytest.approx(
                semrsm.linear_cka(x, y, debiased, method), abs=1e-12)
        assert semrsm.rbf_cka(gx, gy, 0.5, debiased) == pytest.approx(semrsm.rbf_cka(x, y, 0.5, debiased), abs=1e-12)
        assert semrsm.cka(gx @ gx.T, y @ y.T, debiased) == pytest.approx(semrsm.cka(x @ x.T, y @ y.T, debiased),
                                                                          abs=1e-12)
    acc_gpu = MinibatchCKA().update(gx[:25], gy[:25]).update(gx[25:], gy[25:])
    acc_cpu = MinibatchCKA().update(x[:25], y[:25]).update(x[25:], y[25:])
    assert acc_gpu.compute() == pytest.approx(acc_cpu.compute(), abs=1e-12)
    assert isinstance(acc_gpu._xy, cupy.ndarray)  # accumulated on the GPU


def test_cupy_inputs_stay_on_the_gpu():
    cupy = cupy_or_skip()
    x, y = related(n=30, d1=5, d2=60)
    a = Prepared.from_features(cupy.asarray(x), True, "X")
    b = Prepared.from_features(cupy.asarray(y), True, "Y")
    assert isinstance(a.features, cupy.ndarray) and isinstance(b.gram, cupy.ndarray)
    assert isinstance(gram_rbf(cupy.asarray(x)), cupy.ndarray)
    with pytest.raises(ValueError, match=r"X\[0, 1\] is nan"):
        bad = cupy.asarray(x)
        bad[0, 1] = cupy.nan
        semrsm.linear_cka(bad, y)
