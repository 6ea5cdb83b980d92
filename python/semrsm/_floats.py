"""What float64 can represent, and what its sums can resolve: the numerics shared by the measures.

Every similarity here is invariant to multiplying a representation (CKA, CCA) or a sample (cosine,
the LAP's optimal permutation) by a positive number, so inputs of any finite magnitude are first
multiplied by a power of two, which is exact (``ldexp`` changes only the exponent), to a scale where
no product or sum of squares can overflow or underflow; results are scaled back with ``ldexp`` where
they are not invariant. The rounding bounds are the deterministic ones of Higham, "Accuracy and
Stability of Numerical Algorithms" (2nd ed., 2002), sec. 3.1: a sum of k products, in any order,
is within gamma_k = k u / (1 - k u) of the exact value, relative to the sum of the products'
magnitudes (u = eps / 2, the unit roundoff).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SAFE_EXPONENTS", "distance_rounding", "divide_by_two_squares", "sample_exponents", "sum_rounding",
           "unit_exponent"]

#: Samples whose largest magnitude lies in [2^-40, 2^40) are used as they are: the products of two
#: of their entries lie in [2^-80, 2^80], far inside float32 (2^-126 .. 2^128) even summed over 2^40
#: terms, so only the rest are rescaled (and copied).
SAFE_EXPONENTS = (-40, 40)


def unit_exponent(largest: float) -> int:
    """e with ``largest * 2**-e`` in [0.5, 1); 0 for 0. ``ldexp(x, -e)`` brings an array whose
    largest magnitude is ``largest`` to that scale, exactly."""
    return math.frexp(largest)[1]


def sample_exponents(x, xp):
    """For each sample (the first axis of ``x``, NumPy or CuPy) the exponent a of the power of two
    2^a that it is multiplied by: 0 where its largest magnitude lies in [2^-40, 2^40) or is 0, else
    the one that takes it to [0.5, 1). int32 (N,), of module ``xp``."""
    axes = tuple(range(1, x.ndim))
    largest = xp.maximum(x.max(axis=axes), -x.min(axis=axes)).astype(xp.float64)
    _, exponent = xp.frexp(largest)
    low, high = SAFE_EXPONENTS
    outside = (largest > 0) & ((largest < 2.0 ** low) | (largest >= 2.0 ** high))
    return xp.where(outside, -exponent, 0).astype(xp.int32)


def sum_rounding(terms: int, dtype=np.float64) -> float:
    """gamma_k: the relative error bound of a sum of ``terms`` products in ``dtype`` (relative to the
    sum of their magnitudes), whatever the order of summation (Higham, eq. 3.4)."""
    u = float(np.finfo(dtype).eps) / 2
    k = max(1, int(terms)) * u
    return k / (1.0 - k) if k < 0.5 else math.inf


def distance_rounding(norm_terms: int, objective_error: float) -> float:
    """Bound, relative to ``||x||^2 + ||y||^2``, on the rounding of ``||x||^2 + ||y||^2 - 2 <x, y>``
    when each squared norm is a float64 sum of ``norm_terms`` squares and the inner product is within
    ``objective_error * ||x|| ||y||`` of its exact value.

    The norms contribute gamma(norm_terms) (||x||^2 + ||y||^2), the inner product 2 objective_error
    ||x|| ||y|| <= objective_error (||x||^2 + ||y||^2), and the two additions 3 u of it. A squared
    distance below this bound cannot be told from 0: two identical samples compute to any value in
    [0, bound] (a rounding residue, not a distance).
    """
    u = float(np.finfo(np.float64).eps) / 2
    return sum_rounding(norm_terms) + objective_error + 3 * u


def divide_by_two_squares(values, sigma: float, xp, exponent: int = 0):
    """``values * 2^exponent / (2 sigma^2)`` in place, for any positive finite sigma: sigma^2 itself
    is never formed (it overflows past 1.3e154 and underflows below 1.5e-154, and 0 / 0 is NaN).
    With sigma = m 2^e (m in [0.5, 1)) it is ``ldexp(values, exponent - 2 e - 1) / m^2``: the ldexp is
    exact, and as m^2 <= 1 the quotient is at least the scaled value, so nothing overflows that the
    result would not (it is then inf, one too small 0, never NaN); one rounding, as values / (2 sigma^2)."""
    mantissa, sigma_exponent = math.frexp(sigma)
    with np.errstate(over="ignore"):  # inf is the quotient's value then (exp(-inf) = 0)
        xp.ldexp(values, exponent - 2 * sigma_exponent - 1, out=values)
        values /= mantissa * mantissa
    return values
