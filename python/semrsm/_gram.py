"""Gram matrices in float64 without float64 copies of the features: the blocked products that the
spatio-semantic RSM (:mod:`semrsm.rsm`) and CKA (:mod:`semrsm.cka`) are built on.

On the CPU the features are converted to float64 one block of columns at a time and accumulated with
BLAS syrk/gemm in place: no float64 copy of X (8 N D bytes) and one pass over it, which matters when
D >> N. NumPy or CuPy arrays.

Features of any finite magnitude are brought to a safe scale first (semrsm._floats): a representation
is multiplied by the power of two that takes its largest magnitude to [0.5, 1), a sample of the RSMs
by its own power of two where it lies outside [2^-40, 2^40); the functions say which they return.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from scipy.linalg.blas import dgemm, dsyrk

from ._backend import array_module, is_cupy_array
from ._checks import raise_if_not_finite
from ._floats import distance_rounding, divide_by_two_squares, sample_exponents, sum_rounding, unit_exponent

__all__ = ["abs_max", "center_features", "centered_gram", "constant_error", "finite_exponent", "inner_products",
           "median_squared_distance", "mirror_lower", "rbf_from_features", "syrk_accumulate", "zero_residues"]

#: Features (a Gram matrix) count as constant when centring leaves less than this fraction of
#: their Frobenius norm (largest entry); float64 centring errors are about log2(N) * 2e-16 of it.
CONSTANT_RTOL = 1e-13


def constant_error(name: str) -> ValueError:
    return ValueError(f"{name} is constant across samples (every sample has the same features): "
                      f"its similarity to anything is undefined")


def center_features(x, name: str, xp):
    """(N, D) features of any real dtype minus their mean sample, times the power of two 2^-e that
    takes their largest magnitude to [0.5, 1): a new float64 array, whatever the magnitude of x (every
    measure built on it is scale-invariant). Raises when nothing is left after centring."""
    xc = xp.array(x, dtype=xp.float64, copy=True)
    xp.ldexp(xc, -finite_exponent(xc, name, xp), out=xc)
    total = float(xp.vdot(xc.ravel(), xc.ravel()))
    xc -= xc.mean(axis=0, keepdims=True)
    if float(xp.vdot(xc.ravel(), xc.ravel())) <= CONSTANT_RTOL ** 2 * total:
        raise constant_error(name)
    return xc


def abs_max(a) -> float:
    """The largest magnitude in ``a`` (NaN when it holds a NaN)."""
    high, low = float(a.max()), float(a.min())
    return math.nan if math.isnan(high) or math.isnan(low) else max(high, -low)


def finite_exponent(x, name: str, xp) -> int:
    """``unit_exponent`` of the largest magnitude of ``x``, after checking that it is finite."""
    largest = abs_max(x)
    if not math.isfinite(largest):
        raise_if_not_finite(xp.asarray(x), name, xp)
    return unit_exponent(largest)


#: float64 values per column block of :func:`centered_gram` (32 MiB), and rows per block when
#: its triangle is mirrored.
BLOCK_VALUES = 1 << 22
MIRROR_ROWS = 512


def syrk_accumulate(gram, block):
    """gram += block block^T on one triangle (BLAS dsyrk, in place, no N x N temporary)."""
    # block is C-ordered (N, b): block.T is Fortran-ordered; gram.T likewise, so dsyrk writes in place
    target = gram.T
    out = dsyrk(1.0, block.T, beta=1.0, c=target, trans=1, overwrite_c=1)
    if out is not target:  # f2py copied after all (never seen): keep the result
        target[...] = out


def mirror_lower(gram):
    """Copy the lower triangle of a C-ordered square matrix (NumPy or CuPy) onto the upper one, in
    row blocks."""
    xp = array_module(gram)
    n = gram.shape[0]
    for r in range(0, n, MIRROR_ROWS):
        e = min(n, r + MIRROR_ROWS)
        diag = gram[r:e, r:e]
        diag[...] = xp.tril(diag) + xp.tril(diag, -1).T
        gram[r:e, e:] = gram[e:, r:e].T


def centered_gram(f, name: str, xp, allow_constant: bool = False):
    """(G, e): ``G = Zc Zc^T`` in float64 for (N, D) features X of any real dtype, where Z = 2^-e X
    has its largest magnitude in [0.5, 1) and Zc is Z minus its mean sample. So the Gram matrix of
    the centred X is ``ldexp(G, 2 e)``, and G can neither overflow nor underflow, whatever the
    magnitude of X (one pass over X finds e, and checks that it is finite).

    On the CPU X is converted, scaled and centred one block of columns at a time, and the blocks
    are accumulated with BLAS syrk: no float64 copy of X (8 N D bytes), which matters when D >> N.
    Constant features raise unless ``allow_constant`` (a minibatch may be constant by chance).
    """
    n, d = f.shape
    exponent = finite_exponent(f, name, xp)
    step = d if xp is not np else max(1, min(d, BLOCK_VALUES // n))
    gram = xp.zeros((n, n)) if step < d else None
    mean_sq = 0.0  # ||mean sample||^2, so that ||Z||_F^2 = tr(Zc Zc^T) + N ||mean||^2
    for start in range(0, d, step):
        block = xp.array(f[:, start:start + step], dtype=xp.float64, order="C", copy=True)
        if exponent:
            xp.ldexp(block, -exponent, out=block)
        mean = block.mean(axis=0, keepdims=True)
        # no BLAS level-1 call (vdot) between the syrk calls: on OpenBLAS it made them 1.5x slower
        mean_sq += float(xp.square(mean).sum())
        block -= mean
        if gram is None:
            gram = block @ block.T
        else:
            syrk_accumulate(gram, block)
    if step < d:
        mirror_lower(gram)
    trace = float(xp.trace(gram))
    if trace <= CONSTANT_RTOL ** 2 * (trace + n * mean_sq) and not allow_constant:
        raise constant_error(name)
    return gram, exponent


def median_squared_distance(sqdist, median: str, name: str, xp) -> float:
    """The median of an N x N squared-distance matrix with a zero diagonal, by the rule ``median``:
    "all" entries, the zero diagonal included (Kornblith et al.'s code), or the "distinct" pairs'
    non-zero ones."""
    n = sqdist.shape[0]
    if median == "all":
        # Kornblith et al.'s code: np.median over every entry, the zero diagonal included
        value = float(xp.median(sqdist))
        if value > 0:
            return value
        raise ValueError(f"most samples of {name} coincide: the median of its N^2 squared distances is 0, "
                         f"so the RBF bandwidth (a fraction of it) is undefined; median='distinct' takes "
                         f"the median over the non-zero distances instead")
    rows, cols = xp.triu_indices(n, 1)
    distinct = sqdist[rows, cols]
    distinct = distinct[distinct > 0]
    if distinct.size == 0:
        raise ValueError(f"every sample of {name} is the same: the RBF bandwidth (a fraction of the "
                         f"median distance) is undefined")
    return float(xp.median(distinct))


def rbf_from_features(f, threshold: float, median: str, name: str, xp, *, minus_one: bool = False):
    """RBF Gram matrix of (N, D) features of any real dtype, in place of their Gram matrix; the
    bandwidth is ``threshold`` times the square root of the median squared distance by ``median``.

    Squared distances within the rounding of their computation (:func:`semrsm._floats.distance_rounding`
    of float64 sums of D products, relative to ||x_i||^2 + ||x_j||^2 of the centred features) are 0:
    identical samples are at distance 0, not at a rounding residue that the median could pick.
    The quotient d / (2 sigma^2) is formed without sigma^2 (``divide_by_two_squares``), so every
    threshold is taken: a tiny one gives the identity, a huge one all ones.

    ``minus_one``: return ``(exp(-d / (2 sigma^2)) - 1) / c`` for some c > 0 instead, the same kernel
    once centred (centring removes constants; CKA is scale-invariant), which keeps the variation that
    1 - d / (2 sigma^2) would lose to rounding when sigma is large: CKA's kernel.
    """
    n, d = f.shape
    k, _ = centered_gram(f, name, xp)
    norms = xp.diagonal(k).copy()
    rounding = distance_rounding(d, sum_rounding(d))
    for start in range(0, n, MIRROR_ROWS):
        rows = k[start:start + MIRROR_ROWS]
        rows *= -2.0
        rows += norms[start:start + MIRROR_ROWS, None]
        rows += norms[None, :]  # now squared distances
        zero_residues(rows, norms[start:start + MIRROR_ROWS, None] + norms[None, :], rounding, xp)
    xp.fill_diagonal(k, 0.0)
    k /= -median_squared_distance(k, median, name, xp)  # -d / m
    if not minus_one:
        return xp.exp(divide_by_two_squares(k, threshold, xp), out=k)
    mantissa, exponent = math.frexp(threshold)
    c = 1.0 / (2.0 * mantissa * mantissa)  # 1 / (2 threshold^2) = ldexp(c, -2 exponent)
    largest = -float(k.min()) * c  # the largest |z| for z = -d / (2 sigma^2) is ldexp(largest, -2 exponent)
    if math.frexp(largest)[1] - 2 * exponent <= -26:
        # |z| < 2^-26: exp(z) - 1 = z + z^2 / 2 to rounding (the next term is below |z| 2^-54), here
        # divided by 1 / (2 threshold^2); its coefficient of z^2 may underflow, leaving z alone.
        k += (k * math.ldexp(c / 2, -2 * exponent)) * k
        return k
    return xp.expm1(divide_by_two_squares(k, threshold, xp), out=k)


def zero_residues(sqdist, sum_of_norms, rounding: float, xp):
    """Squared distances, in place: negative ones and those within ``rounding * sum_of_norms`` (a
    rounding residue, see :func:`semrsm._floats.distance_rounding`) become 0."""
    xp.maximum(sqdist, 0.0, out=sqdist)
    sqdist[sqdist <= rounding * sum_of_norms] = 0.0
    return sqdist


def inner_products(fx, fy: Optional[np.ndarray]):
    """X Y^T (Y = X when ``fy`` is None) and the squared norms, in float64, of the samples multiplied
    by powers of two: (objective, sq_x, sq_y, a, b) with ``objective[i, j] = 2^(a_i + b_j) <x_i, y_j>``
    and ``sq_x[i] = 2^(2 a_i) ||x_i||^2`` (``a`` from :func:`semrsm._floats.sample_exponents`, 0 for
    every sample of ordinary magnitude), so that nothing overflows or underflows. Columns are
    converted one block at a time: no float64 copy of the samples (8 N D bytes, twice float32 input).
    NumPy or CuPy arrays."""
    xp = array_module(fx)
    n, d = fx.shape
    m = n if fy is None else fy.shape[0]
    step = max(1, min(d, BLOCK_VALUES // max(n, m)))
    a = sample_exponents(fx, xp)
    b = a if fy is None else sample_exponents(fy, xp)
    scale_x, scale_y = bool(a.any()), bool(b.any())
    objective = xp.zeros((n, m))
    sq_x = xp.zeros(n)
    sq_y = sq_x if fy is None else xp.zeros(m)
    for start in range(0, d, step):
        bx = xp.array(fx[:, start:start + step], dtype=xp.float64, order="C")
        if scale_x:
            xp.ldexp(bx, a[:, None], out=bx)
        sq_x += xp.einsum("nd,nd->n", bx, bx)
        by = None
        if fy is not None:
            by = xp.array(fy[:, start:start + step], dtype=xp.float64, order="C")
            if scale_y:
                xp.ldexp(by, b[:, None], out=by)
            sq_y += xp.einsum("nd,nd->n", by, by)
        accumulate_product(objective, bx, by)
    if fy is None:  # exactly symmetric, whatever the BLAS rounds in either half
        mirror_lower(objective)
    return objective, sq_x, sq_y, a, b


def accumulate_product(objective, bx, by=None):
    """objective += bx by^T in place; with ``by`` None, bx bx^T, of which the CPU writes only the
    lower triangle (BLAS dsyrk)."""
    if is_cupy_array(objective):
        objective += bx @ (bx if by is None else by).T
        return
    if by is None:
        syrk_accumulate(objective, bx)
        return
    # objective^T (Fortran view, M x N) += by bx^T, in place
    target = objective.T
    out = dgemm(1.0, by.T, bx.T, beta=1.0, c=target, trans_a=1, overwrite_c=1)
    if out is not target:
        target[...] = out
