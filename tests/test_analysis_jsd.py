"""js_divergence and jsd_correlation against scipy (jensenshannon, pearsonr, spearmanr) and by hand."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from semrsm.analysis import js_divergence, jsd_correlation


def random_probs(rng, n, k):
    p = rng.dirichlet(np.full(k, 0.3), size=n)
    p[0, 1:] = 0.0  # a distribution with zeros: 0 log 0 = 0
    p[0, 0] = 1.0
    return p


def test_divergence_by_hand():
    d = js_divergence(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]))
    assert d[0, 1] == pytest.approx(1.0) and d[0, 0] == 0.0
    # JSD([1, 0], [1/2, 1/2]): m = [3/4, 1/4]; 1/2 log2(4/3) + 1/2 (1/2 log2(2/3) + 1/2 log2(2))
    expected = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5)
    assert d[0, 2] == pytest.approx(expected)


@pytest.mark.parametrize("base", [2.0, math.e, 10.0])
def test_divergence_against_scipy(rng, base):
    p, q = random_probs(rng, 7, 5), random_probs(rng, 4, 5)
    got = js_divergence(p, q, base=base)
    want = np.array([[jensenshannon(a, b, base=base) ** 2 for b in q] for a in p])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(js_divergence(p, base=base), js_divergence(p, p, base=base))


def test_correlation_against_scipy(rng):
    n = 15
    probs = random_probs(rng, n, 4)
    rsm = rng.standard_normal((n, n))
    rsm = rsm + rsm.T
    got = jsd_correlation(rsm, probs)
    iu = np.triu_indices(n, 1)
    divergence = np.array([jensenshannon(probs[i], probs[j], base=2) ** 2 for i, j in zip(*iu)])
    pearson, spearman = stats.pearsonr(rsm[iu], divergence), stats.spearmanr(rsm[iu], divergence)
    assert got.pairs == n * (n - 1) // 2 and got.base == 2.0
    assert got.pearson == pytest.approx(pearson[0], abs=1e-9) and got.pearson_p == pytest.approx(pearson[1])
    assert got.spearman == pytest.approx(spearman[0], abs=1e-9) and got.spearman_p == pytest.approx(spearman[1])
    # Pearson's r is invariant to the base (a scaling of the divergence).
    assert jsd_correlation(rsm, probs, base=math.e).pearson == pytest.approx(got.pearson)


def test_agreement_is_negative(rng):
    """An RSM that is a decreasing function of the JSD correlates at -1 by ranks."""
    probs = random_probs(rng, 10, 3)
    rsm = np.exp(-3 * js_divergence(probs))
    got = jsd_correlation(rsm, probs)
    assert got.spearman == pytest.approx(-1.0) and got.pearson < -0.9


def test_rows_within_the_tolerance_are_accepted(rng):
    probs = random_probs(rng, 6, 3)
    nudged = probs * (1 + 5e-5)
    np.testing.assert_allclose(js_divergence(nudged), js_divergence(probs), atol=1e-12)


@pytest.mark.parametrize("rsm, probs, match", [
    (np.ones((3, 4)), np.full((3, 2), 0.5), "square"),
    (np.eye(4), np.full((3, 2), 0.5), "3 rows for an RSM of 4"),
    (np.eye(2), np.full((2, 2), 0.5), "at least 3"),
    (np.eye(3), np.array([[0.5, 0.5], [1.2, -0.2], [0.5, 0.5]]), ">= 0"),
    (np.eye(3), np.array([[0.5, 0.5], [0.7, 0.5], [0.5, 0.5]]), "row 1 of probs sums to 1.2"),
    (np.eye(3), np.array([[0.5, 0.5], [np.nan, 0.5], [0.5, 0.5]]), "nan"),
    (np.array([[1.0, np.inf, 0], [0, 1, 0], [0, 0, 1]]), np.full((3, 2), 0.5), "inf"),
    (np.ones((3, 3)), np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), "RSM's entries i < j are constant"),
    (np.random.default_rng(0).random((3, 3)), np.full((3, 2), 0.5), "JSD of every pair is constant"),
    (np.eye(3), np.full(3, 1 / 3), "at least 2-D"),
])
def test_bad_input(rsm, probs, match):
    with pytest.raises(ValueError, match=match):
        jsd_correlation(rsm, probs)


def test_bad_base():
    with pytest.raises(ValueError, match="base"):
        js_divergence(np.full((2, 2), 0.5), base=1.0)
    with pytest.raises(ValueError, match="base"):
        js_divergence(np.full((2, 2), 0.5), base=-2.0)
