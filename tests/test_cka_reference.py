"""CKA against the published demo of Kornblith et al. (ICML 2019): the notebook
representation_similarity/Demo.ipynb of google-research/google-research, whose printed values this
reproduces from its own data, and its RBF bandwidth rule (the median over all N^2 squared distances,
the zero diagonal included) written out directly."""

import numpy as np
import pytest

import semrsm
from semrsm.cka import gram_rbf


def demo_data():
    """The demo's data: the legacy global NumPy generator seeded with 1337, X then Y = noise + X."""
    state = np.random.RandomState(1337)
    x = state.randn(100, 10)
    y = state.randn(100, 10) + x
    return x, y


def test_demo_values_are_reproduced():
    x, y = demo_data()
    # the notebook prints five decimals
    assert round(semrsm.linear_cka(x, y), 5) == 0.55761
    assert round(semrsm.cka(x @ x.T, y @ y.T), 5) == 0.55761
    assert round(semrsm.rbf_cka(x, y, threshold=0.5), 5) == 0.65483
    assert round(semrsm.linear_cka(x, y, debiased=True), 5) == 0.51346
    # the distinct-pair median is a different bandwidth, and a different number
    assert round(semrsm.rbf_cka(x, y, threshold=0.5, median="distinct"), 5) != 0.65483


def median_of_all_entries_rbf(f, threshold):
    """The demo's bandwidth rule, written directly: squared distances from the uncentred Gram
    matrix, sigma^2 = threshold^2 times their median over the whole N x N matrix."""
    gram = f @ f.T
    sq = np.diag(gram)[:, None] + np.diag(gram)[None, :] - 2 * gram
    return np.exp(-sq / (2 * threshold ** 2 * np.median(sq)))


def centred_cka(k, l):
    n = len(k)
    h = np.eye(n) - 1.0 / n
    kc, lc = h @ k @ h, h @ l @ h
    return float((kc * lc).sum() / (np.linalg.norm(kc) * np.linalg.norm(lc)))


@pytest.mark.parametrize("n", [3, 10, 51])
@pytest.mark.parametrize("threshold", [0.2, 0.5, 1.0])
@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_bandwidth_rule_matches_a_direct_implementation(n, threshold):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 7)) * rng.uniform(0.5, 3.0, size=7)
    y = np.tanh(x @ rng.normal(size=(7, 4))) + 0.3 * rng.normal(size=(n, 4))
    assert gram_rbf(x, threshold) == pytest.approx(median_of_all_entries_rbf(x, threshold), abs=1e-12)
    expected = centred_cka(median_of_all_entries_rbf(x, threshold), median_of_all_entries_rbf(y, threshold))
    assert semrsm.rbf_cka(x, y, threshold) == pytest.approx(expected, abs=1e-12)
    # similarity_matrix's rbf_cka follows the same default
    matrix = semrsm.similarity_matrix([x], [y], "rbf_cka", threshold=threshold)
    assert matrix.values[0, 0] == pytest.approx(expected, abs=1e-12)


def test_rules_differ_by_the_zero_diagonal():
    """With N zeros among N^2 entries the median of all entries is below the distinct-pair one."""
    x, _ = demo_data()
    sq = ((x[:, None] - x[None]) ** 2).sum(-1)
    all_entries, distinct = np.median(sq), np.median(sq[np.triu_indices(100, 1)])
    assert all_entries < distinct
    for median, m in (("all", all_entries), ("distinct", distinct)):
        assert gram_rbf(x, 1.0, median=median) == pytest.approx(np.exp(-sq / (2 * m)), abs=1e-12)
