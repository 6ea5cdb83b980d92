"""The CCA family and linear regression: references, invariances, errors."""

import numpy as np
import pytest
from scipy.linalg import sqrtm

import semrsm
from semrsm.cca import Subspace


def related(n=300, d1=10, d2=15, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d1))
    y = x @ rng.normal(size=(d1, d2)) + noise * rng.normal(size=(n, d2))
    return x, y


def whitened_cca(x, y):
    """Canonical correlations and X's canonical variates from the covariance matrices."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    wx = np.linalg.inv(np.real(sqrtm(sxx)))
    wy = np.linalg.inv(np.real(sqrtm(syy)))
    u, rho, _ = np.linalg.svd(wx @ sxy @ wy)
    k = min(x.shape[1], y.shape[1])
    return rho[:k], xc @ wx @ u[:, :k]


SYMMETRIC = [semrsm.mean_r2_cca, semrsm.mean_rho_cca, semrsm.svcca]
ALL = SYMMETRIC + [semrsm.pwcca, semrsm.r2_lr]


def test_canonical_correlations_match_the_covariance_formula():
    x, y = related()
    expected, _ = whitened_cca(x, y)
    rho = semrsm.canonical_correlations(x, y)
    assert rho.shape == (10,)
    assert rho == pytest.approx(expected, abs=1e-10)
    assert semrsm.mean_r2_cca(x, y) == pytest.approx(np.mean(expected ** 2), abs=1e-12)
    assert semrsm.mean_rho_cca(x, y) == pytest.approx(np.mean(expected), abs=1e-12)


def test_mean_r2_matches_kornblith_qr_formula():
    x, y = related(d1=12, d2=7)
    qx, _ = np.linalg.qr(x - x.mean(0))
    qy, _ = np.linalg.qr(y - y.mean(0))
    assert semrsm.mean_r2_cca(x, y) == pytest.approx(np.linalg.norm(qx.T @ qy) ** 2 / 7, abs=1e-12)
    assert semrsm.r2_lr(x, y) == pytest.approx(
        np.linalg.norm(qy.T @ (x - x.mean(0))) ** 2 / np.linalg.norm(x - x.mean(0)) ** 2, abs=1e-12)


def test_pwcca_matches_a_direct_implementation():
    x, y = related(d1=8, d2=12)
    rho, variates = whitened_cca(x, y)
    h = variates / np.linalg.norm(variates, axis=0)
    alpha = np.abs(h.T @ (x - x.mean(0))).sum(axis=1)
    assert semrsm.pwcca(x, y) == pytest.approx(alpha @ rho / alpha.sum(), abs=1e-10)


def test_r2_lr_is_the_least_squares_fit():
    x, y = related()
    yc, xc = y - y.mean(0), x - x.mean(0)
    coef, *_ = np.linalg.lstsq(yc, xc, rcond=None)
    expected = 1 - np.sum((xc - yc @ coef) ** 2) / np.sum(xc ** 2)
    assert semrsm.r2_lr(x, y) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("measure", ALL)
def test_self_similarity_is_one(measure):
    x, _ = related()
    assert measure(x, x) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("measure", SYMMETRIC)
def test_symmetric_measures(measure):
    x, y = related()
    assert measure(x, y) == pytest.approx(measure(y, x), abs=1e-12)


def test_asymmetric_measures_are_asymmetric():
    x, y = related()
    assert abs(semrsm.pwcca(x, y) - semrsm.pwcca(y, x)) > 1e-3
    assert abs(semrsm.r2_lr(x, y) - semrsm.r2_lr(y, x)) > 1e-3


def test_cca_is_invariant_to_invertible_linear_maps_and_cka_is_not():
    x, y = related()
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(10, 10)), rng.normal(size=(15, 15))
    for measure in (semrsm.mean_r2_cca, semrsm.mean_rho_cca):
        assert measure(x @ a, y @ b) == pytest.approx(measure(x, y), abs=1e-10)
    # SVCCA keeping every direction is plain CCA; R^2_LR is invariant on the regressor's side
    assert semrsm.svcca(x @ a, y @ b, keep=1.0) == pytest.approx(semrsm.mean_rho_cca(x, y), abs=1e-10)
    assert semrsm.r2_lr(x, y @ b) == pytest.approx(semrsm.r2_lr(x, y), abs=1e-10)
    assert abs(semrsm.linear_cka(x @ a, y @ b) - semrsm.linear_cka(x, y)) > 0.02


@pytest.mark.parametrize("measure", ALL)
def test_invariant_to_isotropic_scaling_and_translation(measure):
    x, y = related()
    assert measure(2.5 * x + 1.0, y) == pytest.approx(measure(x, y), abs=1e-10)
    assert measure(x, 0.1 * y - 4.0) == pytest.approx(measure(x, y), abs=1e-10)
    # at the ends of float64, too: the centred features are rescaled by a power of two first
    for scale in (1e-300, 1e-150, 1e150, 1e300):
        assert measure(x * scale, y) == pytest.approx(measure(x, y), abs=1e-10)


@pytest.mark.parametrize("measure", SYMMETRIC + [semrsm.r2_lr])
def test_invariant_to_orthogonal_maps(measure):
    x, y = related()
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(10, 10)))
    assert measure(x @ q, y) == pytest.approx(measure(x, y), abs=1e-10)


def test_pwcca_is_not_invariant_to_orthogonal_maps():
    # its weights follow X's neurons (Kornblith et al., Table 1)
    x, y = related()
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(10, 10)))
    assert abs(semrsm.pwcca(x @ q, y) - semrsm.pwcca(x, y)) > 1e-4


def test_svcca_keeps_a_fraction_of_variance_or_k_dimensions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)) * np.array([10, 5, 1, 0.1, 0.01, 0.01])
    sub = Subspace(x, "X")
    assert sub.truncated(0.99).rank == 2  # 100 + 25 of 126 units of variance is < 0.99; + 1 is > 0.99
    assert sub.truncated(0.5).rank == 1
    assert sub.truncated(1.0).rank == 6
    assert sub.truncated(4).rank == 4
    assert sub.truncated(100).rank == 6
    y = rng.normal(size=(400, 6))
    assert semrsm.svcca(x, y, keep=2) == pytest.approx(
        semrsm.mean_rho_cca(sub.u[:, :2], Subspace(y, "Y").u[:, :2]), abs=1e-12)


def test_constant_and_duplicate_features_are_dropped():
    x, y = related()
    wider = np.c_[x, np.full(len(x), 3.0), x[:, :2]]
    assert Subspace(wider, "X").rank == 10
    for measure in (semrsm.mean_r2_cca, semrsm.mean_rho_cca):
        assert measure(wider, y) == pytest.approx(measure(x, y), abs=1e-10)
    # regression from the wider side: the same span, the same fit
    assert semrsm.r2_lr(y, wider) == pytest.approx(semrsm.r2_lr(y, x), abs=1e-10)


def test_errors():
    x, y = related(n=20, d1=10, d2=10)
    with pytest.raises(ValueError, match="fewer dimensions than samples"):
        semrsm.mean_r2_cca(x, y)
    with pytest.raises(ValueError, match="fits anything exactly"):
        semrsm.r2_lr(x, np.random.default_rng(1).normal(size=(20, 25)))
    x, y = related()
    with pytest.raises(ValueError, match="constant across samples"):
        semrsm.pwcca(np.ones((300, 4)), y)
    x[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"X\[5, 1\] is nan"):
        semrsm.mean_rho_cca(x, y)
    x, y = related()
    with pytest.raises(ValueError, match="same samples"):
        semrsm.svcca(x, y[:-1])
    for keep, error in [(0, ValueError), (0.0, ValueError), (1.5, ValueError), (-2, ValueError),
                        ("all", TypeError), (True, TypeError)]:
        with pytest.raises(error, match="keep"):
            semrsm.svcca(x, y, keep=keep)
