"""The semantic RSM against the rules of the authors' code (Wald et al., NeurIPS 2024), written out
directly here: their RBF bandwidth and their orientation of Batch-Optimal's windows."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import semrsm
from semrsm.semantic import compute
from semrsm.semantic._arrays import numpy_ops
from semrsm.semantic._plan import Options


def positions(seed, n=5, S=10, C=6):
    """(N, S, C) ReLU-like features whose position norms are all distinct (no ties in any ranking)."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(size=(n, S, C)) + 0.3, 0.0) * rng.uniform(0.5, 2.0, size=(n, S, 1))


def aligned_sqdist(a, b):
    rows, cols = linear_sum_assignment(a @ b.T, maximize=True)
    return float(((a[rows] - b[cols]) ** 2).sum())


def authors_rbf(x, y=None):
    """Their rule: squared distances of the aligned pairs i >= j (all pairs when y is given), the
    lower median of the non-zero ones (torch.median's choice for an even count), sigma = sqrt of it
    + 1e-3, exp(-0.5 d / sigma^2)."""
    symmetric = y is None
    y = x if symmetric else y
    pairs = [(i, j) for i in range(len(x)) for j in range(len(y)) if not symmetric or i >= j]
    dist = {(i, j): aligned_sqdist(x[i], y[j]) for i, j in pairs}
    nonzero = sorted(d for d in dist.values() if d != 0)
    sigma = np.sqrt(nonzero[(len(nonzero) - 1) // 2]) + 1e-3
    rsm = np.empty((len(x), len(y)))
    for (i, j), d in dist.items():
        rsm[i, j] = np.exp(-0.5 * d / sigma ** 2)
        if symmetric:
            rsm[j, i] = rsm[i, j]
    return rsm


@pytest.mark.parametrize("n", [4, 5])  # 6 and 10 distinct pairs: an even count, where the medians differ
def test_authors_sigma_rule(n):
    x = positions(n, n=n)
    expected = authors_rbf(x)
    got = semrsm.semantic_rsm(x, kernel="rbf", layout="NSC", sigma="authors")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    default = semrsm.semantic_rsm(x, kernel="rbf", layout="NSC")
    assert np.abs(default - expected).max() > 1e-4  # the default rule is another bandwidth
    y = positions(n + 10, n=3)
    np.testing.assert_allclose(semrsm.semantic_rsm(x, y, kernel="rbf", layout="NSC", sigma="authors"),
                               authors_rbf(x, y), rtol=1e-12, atol=1e-14)


def test_authors_sigma_rule_for_the_spatio_semantic_rsm():
    """Their flattened RSM takes the lower median over the whole matrix, every distance twice: the
    same value as over i > j."""
    x = positions(7, n=6).reshape(6, -1)
    sq = ((x[:, None] - x[None]) ** 2).sum(-1)
    nonzero = np.sort(sq[sq != 0])
    sigma = np.sqrt(nonzero[(nonzero.size - 1) // 2]) + 1e-3
    np.testing.assert_allclose(semrsm.rsm(x, kernel="rbf", sigma="authors"), np.exp(-0.5 * sq / sigma ** 2),
                               rtol=1e-12, atol=1e-14)


def windowed_match(a, b, k, ascending):
    """Batch-Optimal as a loop: each sample's positions ranked by norm, windows of k ranks cut from
    the start of the ranking, window w of a matched exactly to window w of b. ``ascending`` is the
    authors' code (so its last, short window holds the largest norms)."""
    sign = 1.0 if ascending else -1.0
    order_a = np.argsort(sign * np.linalg.norm(a, axis=1))
    order_b = np.argsort(sign * np.linalg.norm(b, axis=1))
    perm = np.empty(len(a), dtype=np.int64)
    for start in range(0, len(a), k):
        ia, ib = order_a[start:start + k], order_b[start:start + k]
        rows, cols = linear_sum_assignment(a[ia] @ b[ib].T, maximize=True)
        perm[ia[rows]] = ib[cols]
    return perm


ENGINES = {"cpu": semrsm.semantic_rsm,
           "arrays": lambda x, y=None, **o: compute(x, y, Options.check(**dict(
               dict(topk=None, return_bound=False, sigma=None, threads=None, max_memory=None, progress=False), **o)),
               numpy_ops())}


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("window", [3, 4, 5, 12])  # short windows of 1 and 2 ranks, none, and exact
@pytest.mark.parametrize("partial_window", ["largest", "smallest"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_batch_optimal_orientation_matches_a_direct_implementation(engine, window, partial_window, symmetric):
    x = positions(1)
    y = None if symmetric else positions(2, n=4)
    rsm, perm = ENGINES[engine](x, y, kernel="inner", matcher="batch_optimal", window=window,
                                partial_window=partial_window, layout="NSC", return_perm=True)
    other = x if symmetric else y
    for i, j in itertools.product(range(len(x)), range(len(other))):
        if symmetric and i == j:
            continue
        expected = windowed_match(x[i], other[j], window, ascending=partial_window == "largest")
        np.testing.assert_array_equal(perm[i, j], expected)
        assert rsm[i, j] == pytest.approx(np.einsum("sc,sc->", x[i], other[j][expected]), rel=1e-12)


def test_orientations_differ_only_with_a_short_window():
    x = positions(3)

    def rsm(window, side):
        return semrsm.semantic_rsm(x, kernel="inner", matcher="batch_optimal", window=window, partial_window=side,
                                   layout="NSC")

    np.testing.assert_array_equal(rsm(5, "smallest"), rsm(5, "largest"))  # 5 divides S = 10
    assert np.abs(rsm(4, "smallest") - rsm(4, "largest")).max() > 0
    assert np.array_equal(semrsm.semantic_rsm(x, kernel="inner", matcher="batch_optimal", window=4, layout="NSC"),
                          rsm(4, "largest"))  # the default: the authors' orientation
    with pytest.raises(ValueError, match="partial_window 'top'.*'largest', 'smallest'"):
        semrsm.semantic_rsm(x, matcher="batch_optimal", partial_window="top", layout="NSC")
