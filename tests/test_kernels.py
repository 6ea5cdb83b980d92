"""semrsm.kernels: every kernel from the objective and the norms."""

import numpy as np
import pytest

from semrsm.kernels import check_kernels, check_sigma, kernels_from_objective, sigma_squared


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
    assert sigma_squared(sq, True, "median") == 2.5
    assert sigma_squared(np.zeros((2, 2)), True, "median") == 1.0
    # the authors' rule: the lower of the two middle values, then 1e-3 on sigma
    assert sigma_squared(sq, True, "authors") == pytest.approx((1.0 + 1e-3) ** 2, rel=1e-15)
    assert sigma_squared(sq, False, "authors") == pytest.approx((1.0 + 1e-3) ** 2, rel=1e-15)  # 1 1 4 4
    assert sigma_squared(np.array([[9.0, 4.0, 1.0]]), False, "authors") == pytest.approx(2.001 ** 2, rel=1e-15)
    assert sigma_squared(np.zeros((2, 2)), True, "authors") == 1.0


def test_check_sigma():
    assert check_sigma(None) == "median" and check_sigma("authors") == "authors" and check_sigma(2) == 2.0
    with pytest.raises(ValueError, match="'median', 'authors'"):
        check_sigma("wald")
    with pytest.raises(ValueError, match="sigma"):
        check_sigma(0.0)


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
