"""semrsm.kernels: every kernel from the objective and the norms."""

import numpy as np
import pytest

from semrsm.kernels import check_kernels, kernels_from_objective, median_sigma_squared


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
    assert median_sigma_squared(sq, symmetric=True) == 2.5
    assert median_sigma_squared(np.zeros((2, 2)), symmetric=True) == 1.0


def test_zero_samples_have_cosine_zero():
    obj = np.zeros((2, 2))
    got = kernels_from_objective(obj, np.array([0.0, 1.0]), np.array([0.0, 1.0]), ["cosine"], symmetric=True)
    np.testing.assert_array_equal(got["cosine"], [[0.0, 0.0], [0.0, 1.0]])


def test_check_kernels():
    assert check_kernels("rbf") == (["rbf"], True)
    assert check_kernels(["rbf", "inner", "rbf"]) == (["rbf", "inner"], False)
    for bad in ("linear", [], 3):
        with pytest.raises(ValueError):
            check_kernels(bad)
