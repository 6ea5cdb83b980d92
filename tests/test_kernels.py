"""semrsm.kernels: every kernel from the objective and the norms."""

import numpy as np
import pytest

import semrsm

from semrsm.kernels import check_kernels, check_sigma, kernels_from_objective, median_distance, median_of_blocks


def test_kernels_match_vectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 10))
    obj = x @ x.T
    sq = (x ** 2).sum(1)
    got = kernels_from_objective(obj, sq, sq, ["inner", "cosine", "rbf"], symmetric=True, sigma=2.0)
    dist = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.testing.assert_allclose(got["inner"], obj)
    np.testing.assert_allclose(got["cosine"], obj / np.outer(np.sqrt(sq), np.sqrt(sq)))
    np.testing.assert_allclose(got["rbf"], np.exp(-dist / 8.0), atol=1e-12)
    assert (np.diag(got["cosine"]) == 1.0).all() and (np.diag(got["rbf"]) == 1.0).all()


def test_median_over_distinct_nonzero_pairs():
    sq = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 0.0], [4.0, 0.0, 0.0]])
    assert median_distance(sq, True) == 2.5
    assert median_distance(np.zeros((2, 2)), True) is None
    # the authors' rule takes the lower of the two middle values
    assert median_distance(sq, True, lower=True) == 1.0
    assert median_distance(sq, False, lower=True) == 1.0  # 1 1 4 4
    assert median_distance(np.array([[9.0, 4.0, 1.0]]), False, lower=True) == 4.0


@pytest.mark.parametrize("rule", ["median", "authors"])
def test_sigma_rules_give_their_bandwidths(rule):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 5))
    sq = (x ** 2).sum(1)
    dist = ((x[:, None] - x[None]) ** 2).sum(-1)
    upper = dist[np.triu_indices(7, 1)]
    # then 1e-3 on sigma: sqrt of the lower median of the 21 distances (the 11th), plus 1e-3
    s2 = np.median(upper) if rule == "median" else (np.sqrt(np.sort(upper)[10]) + 1e-3) ** 2
    got = kernels_from_objective(x @ x.T, sq, sq, ["rbf"], symmetric=True, sigma=rule)["rbf"]
    np.testing.assert_allclose(got, np.exp(-dist / (2 * s2)), rtol=1e-12, atol=1e-14)
    assert (np.diag(got) == 1.0).all()
    assert kernels_from_objective(np.zeros((2, 2)), np.zeros(2), np.zeros(2), ["rbf"], symmetric=True,
                                  sigma=rule)["rbf"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_check_sigma():
    assert check_sigma(None) == "median" and check_sigma("authors") == "authors" and check_sigma(2) == 2.0
    with pytest.raises(ValueError, match="'median', 'authors'"):
        check_sigma("wald")
    with pytest.raises(ValueError, match="sigma"):
        check_sigma(0.0)


def test_zero_samples_have_cosine_zero():
    obj = np.zeros((2, 2))
    with pytest.warns(semrsm.UnreliableResultWarning, match="1 sample.* of x are all zero .the first: 0.*themselves"):
        got = kernels_from_objective(obj, np.array([0.0, 1.0]), np.array([0.0, 1.0]), ["cosine"], symmetric=True)
    np.testing.assert_array_equal(got["cosine"], [[0.0, 0.0], [0.0, 1.0]])


def test_check_kernels():
    assert check_kernels("rbf") == (["rbf"], True)
    assert check_kernels(["rbf", "inner", "rbf"]) == (["rbf", "inner"], False)
    for bad in ("linear", [], 3):
        with pytest.raises(ValueError):
            check_kernels(bad)


@pytest.mark.parametrize("count", [1, 2, 7, 1000, 1001])
def test_median_of_blocks_is_numpys_median(count):
    rng = np.random.default_rng(count)
    values = np.concatenate([rng.lognormal(0, 3, count // 2), np.full(count - count // 2, 0.25)])  # ties too
    rng.shuffle(values)
    blocks = lambda: iter(np.array_split(values, 5))  # noqa: E731
    assert median_of_blocks(blocks) == np.median(values)
    assert median_of_blocks(blocks, lower=True) == np.sort(values)[(count - 1) // 2]
    assert median_of_blocks(lambda: iter([np.empty(0)])) is None
