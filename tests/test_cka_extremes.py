"""CKA at the extremes of floating point, and where its numbers stop meaning anything: the same
data at scale 1 is the reference for every scale (CKA is scale-invariant), the formula of the chance
level is held to a simulation, and each warning to the case it is for."""

import warnings

import numpy as np
import pytest

import semrsm
from semrsm.cka import MinibatchCKA, Prepared, centred_asymmetry, chance_level, cka_of, gram_rbf
from test_cka import ref_cka, related, song_unbiased_hsic

SCALES = [1e-300, 1e-200, 1e-100, 1e-20, 1e20, 1e80, 1e150, 1e200, 1e300]


@pytest.fixture
def quiet():
    """These tests are about numerics at small N; the meaning of the values is tested below."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", semrsm.UnreliableResultWarning)
        yield


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_of_gram_matrices_at_any_scale(debiased):
    x, y = related()
    k, l = x @ x.T, y @ y.T
    want = semrsm.cka(k, l, debiased)
    assert want == pytest.approx(ref_cka(k, l, debiased), abs=1e-12)
    for scale in SCALES:
        assert semrsm.cka(k * scale, l, debiased) == pytest.approx(want, abs=1e-12)
        assert semrsm.cka(k * scale, l * scale, debiased) == pytest.approx(want, abs=1e-12)
        assert semrsm.cka(k * scale, l / scale, debiased) == pytest.approx(want, abs=1e-12)
    # entries at float64's maximum: their sum K + K^T would overflow
    biggest = np.finfo(np.float64).max
    assert semrsm.cka(k / np.abs(k).max() * biggest, l, debiased) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("method", ["features", "gram"])
@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_at_any_scale_on_both_paths(method, debiased):
    x, y = related()
    want = semrsm.linear_cka(x, y, debiased, method)
    assert want == pytest.approx(ref_cka(x @ x.T, y @ y.T, debiased), abs=1e-12)
    for scale in SCALES:
        assert semrsm.linear_cka(x * scale, y, debiased, method) == pytest.approx(want, abs=1e-12)
        assert semrsm.linear_cka(x * scale, y * scale, debiased, method) == pytest.approx(want, abs=1e-12)
    # float32, from its smallest subnormals to its largest values, by powers of two (exact)
    for exponent in (-140, -100, 60, 120):
        scaled = np.ldexp(x.astype(np.float32), exponent - 2)
        assert np.isfinite(scaled).all() and (scaled != 0).all() or exponent == -140
        assert semrsm.linear_cka(scaled, y, debiased, method) == pytest.approx(
            semrsm.linear_cka(np.ldexp(scaled.astype(np.float64), 2 - exponent), y, debiased, method), abs=1e-12)


def test_large_features_are_not_taken_for_constant_ones():
    x, y = related()
    for scale in (1e-200, 1e200):
        assert np.isfinite(semrsm.linear_cka(x * scale, y))
    with pytest.raises(ValueError, match="constant across samples"):
        semrsm.linear_cka(np.full((60, 12), 1e200), y)


@pytest.mark.parametrize("debiased", [False, True])
def test_rbf_cka_at_any_scale_and_threshold(debiased, quiet):
    x, y = related(n=40)
    want = semrsm.rbf_cka(x, y, 0.5, debiased)
    for scale in SCALES:
        assert semrsm.rbf_cka(x * scale, y / scale, 0.5, debiased) == pytest.approx(want, abs=1e-12)
    # threshold -> 0: both kernels become the identity, whose CKA is 1 (and of which debiasing
    # leaves nothing)
    if debiased:
        with pytest.raises(ValueError, match="nothing left after debiasing"):
            semrsm.rbf_cka(x, y, 1e-300, debiased)
    else:
        assert semrsm.rbf_cka(x, y, 1e-300, debiased) == pytest.approx(1.0, abs=1e-12)
    # threshold -> infinity: exp(-z) - 1 = -z + ..., so RBF CKA becomes linear CKA
    linear = semrsm.linear_cka(x, y, debiased)
    for threshold in (1e8, 1e154, 1e300):
        assert semrsm.rbf_cka(x, y, threshold, debiased) == pytest.approx(linear, abs=1e-10)
    # in between, against the reference formula on kernels without the cancelling 1
    dx, dy = (((f[:, None] - f[None]) ** 2).sum(-1) for f in (x, y))
    for threshold in (30.0, 1e3):
        kx, ky = (np.expm1(-d / (2 * threshold ** 2 * np.median(d))) for d in (dx, dy))
        assert semrsm.rbf_cka(x, y, threshold, debiased) == pytest.approx(ref_cka(kx, ky, debiased), abs=1e-10)
    # the public RBF Gram matrix takes every threshold too
    assert np.array_equal(gram_rbf(x, 1e-300), np.eye(40))
    assert np.array_equal(gram_rbf(x, 1e300), np.ones((40, 40)))


def test_a_result_that_is_not_finite_raises_instead_of_being_clipped():
    gram = np.full((4, 4), 1e200)
    gram[0, 0] = 3e200
    with np.errstate(over="ignore"):  # by hand, without the rescaling: every HSIC is inf
        a, b = Prepared(np, False, "K", gram=gram), Prepared(np, False, "L", gram=gram.copy())
    with pytest.raises(ValueError, match="CKA of K and L is nan: HSIC overflowed"):
        cka_of(a, b)


# ---------------------------------------------------------------------------------------------
# Minibatch CKA


def batches_of(x, y, count):
    size = len(x) // count
    return [(x[k * size:(k + 1) * size], y[k * size:(k + 1) * size]) for k in range(count)]


def test_minibatches_of_any_magnitude_accumulate():
    x, y = related(n=200)
    batches = batches_of(x, y, 4)
    hsic = np.array([[song_unbiased_hsic(a @ a.T, b @ b.T), song_unbiased_hsic(a @ a.T, a @ a.T),
                      song_unbiased_hsic(b @ b.T, b @ b.T)] for a, b in batches])
    # batch k's x is multiplied by 2^sx[k], its y by 2^sy[k]: HSIC(x, y) by 2^(2 sx + 2 sy), ...
    for sx, sy in (([0, 0, 0, 0], [0, 0, 0, 0]), ([100, -100, 0, 60], [0, 30, -80, 0])):
        acc = MinibatchCKA()
        for (a, b), ex, ey in zip(batches, sx, sy):
            acc.update(np.ldexp(a, ex), np.ldexp(b, ey))
        sx, sy = np.array(sx), np.array(sy)
        xy = (hsic[:, 0] * 2.0 ** (2 * sx + 2 * sy)).sum()
        xx = (hsic[:, 1] * 2.0 ** (4 * sx)).sum()
        yy = (hsic[:, 2] * 2.0 ** (4 * sy)).sum()
        assert acc.compute() == pytest.approx(xy / np.sqrt(xx * yy), rel=1e-10)
    # one batch 1e150 times larger than the rest: the others' share underflows next to it
    acc = MinibatchCKA().update(batches[0][0] * 1e150, batches[0][1])
    for a, b in batches[1:]:
        acc.update(a, b)
    want = hsic[0, 0] / np.sqrt(hsic[0, 1] * hsic[:, 2].sum())
    assert acc.compute() == pytest.approx(want, rel=1e-10) and acc.compute() > 0.1
    acc = MinibatchCKA().update(batches[0][0] * 1e150, batches[0][1] * 1e-150)
    assert acc.compute() == pytest.approx(hsic[0, 0] / np.sqrt(hsic[0, 1] * hsic[0, 2]), rel=1e-10)


def test_minibatches_of_x_alone_compare_it_with_itself():
    x, _ = related(n=200)
    acc = MinibatchCKA()
    for start in range(0, 200, 50):
        acc.update(x[start:start + 50] * 10.0 ** (start // 10))
    assert acc.compute() == pytest.approx(1.0, abs=1e-12)
    layers = MinibatchCKA()
    for start in range(0, 200, 50):
        layers.update({"a": x[start:start + 50], "b": x[start:start + 50, :3] * 1e100})
    values = layers.compute()
    assert np.diag(values) == pytest.approx([1.0, 1.0], abs=1e-12) and values[0, 1] == pytest.approx(values[1, 0])


def test_minibatch_says_what_changed_between_batches():
    x, y = related(n=40)
    with pytest.raises(ValueError, match=r"the first batch compared x with itself \(update\(x\)\); this one passes y"):
        MinibatchCKA().update(x[:20]).update(x[20:], y[20:])
    with pytest.raises(ValueError, match=r"the first batch compared x with y \(update\(x, y\)\); this one passes no y"):
        MinibatchCKA().update(x[:20], y[:20]).update(x[20:])
    with pytest.raises(ValueError, match=r"the y of this batch differs .*: layers \['a'\] where the first had "
                                         r"layers \['b'\]"):
        MinibatchCKA().update(x[:20], {"b": y[:20]}).update(x[20:], {"a": y[20:]})


# ---------------------------------------------------------------------------------------------
# Numbers that say little: warnings that name the remedy


def test_chance_level_is_the_mean_cka_of_unrelated_representations():
    """E CKA = sqrt(r_x r_y) / (N - 1) for independent representations, whatever their spectra."""
    rng = np.random.default_rng(0)
    for n, d1, d2 in ((12, 1000, 1000), (50, 5, 200), (100, 50, 50)):
        values, predicted = [], []
        for _ in range(100):
            x = rng.normal(size=(n, d1)) * rng.uniform(0.1, 1.0, size=d1)
            y = rng.normal(size=(n, d2))
            a, b = Prepared.from_features(x, False, "X"), Prepared.from_features(y, False, "Y")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", semrsm.UnreliableResultWarning)
                values.append(cka_of(a, b))
            predicted.append(chance_level(a, b))
        assert np.mean(values) == pytest.approx(np.mean(predicted), abs=0.01)


def test_biased_cka_with_too_few_samples_warns_and_debiased_does_not():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 1000)), rng.normal(size=(12, 1000))  # independent, N << D
    with pytest.warns(semrsm.UnreliableResultWarning, match=r"N = 12 samples: unrelated representations .* score "
                                                            r"0\.9\d .*use debiased=True, or more samples"):
        assert semrsm.linear_cka(x, y) > 0.95
    with pytest.warns(semrsm.UnreliableResultWarning, match="biased CKA of K and L says little"):
        semrsm.cka(x @ x.T, y @ y.T)
    with pytest.warns(semrsm.UnreliableResultWarning, match="biased CKA of X and Y"):
        semrsm.rbf_cka(x[:, :5], y[:, :5], threshold=1e-3)  # both kernels nearly the identity
    with warnings.catch_warnings():
        warnings.simplefilter("error", semrsm.UnreliableResultWarning)
        assert abs(semrsm.linear_cka(x, y, debiased=True)) < 0.2
        x, y = related(n=300)  # many samples, few dimensions: biased CKA is fine
        semrsm.linear_cka(x, y)
        semrsm.rbf_cka(x, y)


def test_a_similarity_matrix_warns_once_for_all_its_pairs():
    rng = np.random.default_rng(2)
    layers = [rng.normal(size=(10, 500)) for _ in range(4)]
    with pytest.warns(semrsm.UnreliableResultWarning) as caught:
        semrsm.similarity_matrix(layers)
    messages = [str(w.message) for w in caught if w.category is semrsm.UnreliableResultWarning]
    assert len(messages) == 1 and messages[0].startswith("layer '0' of A vs layer '0' of B: biased CKA")
    assert "and 9 more of the 10 pairs alike" in messages[0]


def test_centred_asymmetry_is_the_formula():
    rng = np.random.default_rng(3)
    n = 9
    m = rng.normal(size=(n, n)) + 3.0
    h = np.eye(n) - 1.0 / n
    s, a = (m + m.T) / 2, (m - m.T) / 2
    assert centred_asymmetry(m) == pytest.approx(np.linalg.norm(h @ a @ h) / np.linalg.norm(h @ s @ h), rel=1e-12)
    assert centred_asymmetry(s) == pytest.approx(0.0, abs=1e-7)


def test_cka_of_a_cross_rsm_warns():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 30)), rng.normal(size=(40, 30))
    with pytest.warns(semrsm.UnreliableResultWarning, match="K is not symmetric: .*RSM of two different sets"):
        semrsm.cka(semrsm.rsm(x, y), semrsm.rsm(x), debiased=True)
    # an approximate matcher's RSM of x against a copy of it is nearly symmetric: no warning
    maps = np.maximum(rng.normal(size=(30, 8, 3, 3)), 0)
    greedy = semrsm.semantic_rsm(maps, maps.copy(), matcher="greedy")
    assert not np.array_equal(greedy, greedy.T)
    with warnings.catch_warnings():
        warnings.simplefilter("error", semrsm.UnreliableResultWarning)
        semrsm.cka(greedy, semrsm.semantic_rsm(maps), debiased=True)
