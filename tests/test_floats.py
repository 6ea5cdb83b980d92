"""semrsm._floats: power-of-two scales and rounding bounds, against exact rational arithmetic."""

import math
from fractions import Fraction

import numpy as np
import pytest

from semrsm._floats import distance_rounding, divide_by_two_squares, sample_exponents, sum_rounding, unit_exponent


def exact(value: Fraction) -> float:
    """The float nearest to ``value`` (inf past float64)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def test_unit_exponent_brings_any_magnitude_to_one_half_to_one():
    for value in (5e-324, 1e-310, 2.0 ** -1022, 1e-200, 0.5, 0.75, 1.0, 3.0, 1e200, np.finfo(np.float64).max):
        assert 0.5 <= math.ldexp(value, -unit_exponent(value)) < 1.0
    assert unit_exponent(0.0) == 0


def test_sum_rounding_is_gamma_k_and_bounds_real_sums():
    u = 2.0 ** -53
    assert sum_rounding(10) == pytest.approx(10 * u / (1 - 10 * u), rel=1e-15)
    assert sum_rounding(10, np.float32) == pytest.approx(10 * 2.0 ** -24 / (1 - 10 * 2.0 ** -24), rel=1e-12)
    assert sum_rounding(2 ** 60) == math.inf
    rng = np.random.default_rng(0)
    for k in (3, 50, 400):
        for dtype in (np.float32, np.float64):
            a, b = rng.normal(size=(2, k)).astype(dtype) * np.exp(rng.normal(size=(2, k)) * 3).astype(dtype)
            computed = float(np.dot(a, b))
            true = sum(Fraction(float(p)) * Fraction(float(q)) for p, q in zip(a, b))
            magnitude = sum(abs(Fraction(float(p)) * Fraction(float(q))) for p, q in zip(a, b))
            assert abs(Fraction(computed) - true) <= Fraction(sum_rounding(k, dtype)) * magnitude


def test_distance_rounding_bounds_the_residue_of_identical_and_close_samples():
    rng = np.random.default_rng(1)
    worst = 0.0
    for trial in range(300):
        k = int(rng.integers(2, 200))
        x = rng.normal(size=k) * 10.0 ** rng.integers(-3, 4)
        y = x.copy() if trial % 2 else x + rng.normal(size=k) * 1e-9 * np.abs(x).max()
        nx, ny = float(np.einsum("i,i->", x, x)), float(np.dot(y, y))
        computed = nx + ny - 2.0 * float(x[::-1] @ y[::-1])  # another order of summation
        true = sum((Fraction(float(p)) - Fraction(float(q))) ** 2 for p, q in zip(x, y))
        bound = distance_rounding(k, sum_rounding(k)) * (nx + ny)
        assert abs(Fraction(computed) - true) <= Fraction(bound)
        if trial % 2:
            worst = max(worst, abs(computed) / bound)
    assert worst > 0.0  # identical samples do leave residues, which the bound covers


@pytest.mark.parametrize("sigma", [1e-300, 1e-200, 1e-154, 1e-20, 0.3, 1.0, 7.0, 1e20, 1e154, 1e200, 1e300])
def test_divide_by_two_squares_never_forms_sigma_squared(sigma):
    values = np.array([0.0, 5e-324, 1e-300, 1e-10, 1.0, 3.7, 1e200, 1e300])
    for exponent in (0, -600, 600):
        got = divide_by_two_squares(values.copy(), sigma, np, exponent)
        want = [exact(Fraction(v) * Fraction(2) ** exponent / (2 * Fraction(sigma) ** 2)) for v in values]
        assert not np.isnan(got).any()
        for g, w in zip(got, want):
            if w == 0.0 or math.isinf(w) or abs(w) < 2.0 ** -1000:  # beyond or at the end of float64
                assert g == pytest.approx(w, abs=2.0 ** -1000)
            else:
                assert g == pytest.approx(w, rel=4e-16)


def test_sample_exponents_rescale_only_samples_outside_the_safe_range():
    rng = np.random.default_rng(2)
    scales = [1.0, 2.0 ** 39, 2.0 ** 40, 2.0 ** -40, 2.0 ** -41, 1e-300, 1e300, 0.0]
    for dtype, usable in ((np.float64, scales), (np.float32, [s for s in scales if 1e-38 < s < 1e38 or s == 0])):
        x = np.stack([rng.normal(size=(3, 4)) * s for s in usable]).astype(dtype)
        exponents = sample_exponents(x, np)
        assert exponents.dtype == np.int32
        for sample, e in zip(x, exponents):
            largest = float(np.abs(sample).max())
            if largest == 0.0 or 2.0 ** -40 <= largest < 2.0 ** 40:
                assert e == 0
            else:
                assert 0.5 <= float(np.abs(np.ldexp(sample, e)).max()) < 1.0
                assert np.ldexp(np.ldexp(sample, e), -e).tolist() == sample.tolist()  # exact
