"""Gram matrices in float64 without float64 copies of the features: the blocked products that the
spatio-semantic RSM (:mod:`semrsm.rsm`) and CKA (:mod:`semrsm.cka`) are built on.

On the CPU the features are converted to float64 one block of columns at a time and accumulated with
BLAS syrk/gemm in place: no float64 copy of X (8 N D bytes) and one pass over it, which matters when
D >> N. NumPy or CuPy arrays.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.linalg.blas import dgemm, dsyrk

from ._backend import array_module, is_cupy_array
from ._checks import raise_if_not_finite

__all__ = ["abs_max", "center_features", "centered_gram", "constant_error", "inner_products", "median_squared_distance",
           "mirror_lower", "rbf_from_features", "syrk_accumulate"]

#: Features (a Gram matrix) count as constant when centring leaves less than this fraction of
#: their Frobenius norm (largest entry); float64 centring errors are about log2(N) * 2e-16 of it.
CONSTANT_RTOL = 1e-13


def constant_error(name: str) -> ValueError:
    return ValueError(f"{name} is constant across samples (every sample has the same features): "
                      f"its similarity to anything is undefined")


def center_features(x, name: str, xp):
    """Subtract the mean sample from float64 features; raise when nothing is left."""
    xc = x - x.mean(axis=0, keepdims=True)
    if float(xp.vdot(xc.ravel(), xc.ravel())) <= CONSTANT_RTOL ** 2 * float(xp.vdot(x.ravel(), x.ravel())):
        raise constant_error(name)
    return xc


def abs_max(a) -> float:
    return max(float(a.max()), -float(a.min()))


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
    """``Xc Xc^T`` in float64 for (N, D) features of any real dtype (Xc: X minus its mean sample).

    On the CPU X is converted, checked and centred one block of columns at a time, and the blocks
    are accumulated with BLAS syrk: no float64 copy of X (8 N D bytes) and one pass over it, which
    matters when D >> N. Non-finite input is found from the diagonal and then located in X.
    Constant features raise unless ``allow_constant`` (a minibatch may be constant by chance).
    """
    n, d = f.shape
    step = d if xp is not np else max(1, min(d, BLOCK_VALUES // n))
    gram = xp.zeros((n, n)) if step < d else None
    mean_sq = 0.0  # ||mean sample||^2, so that ||X||_F^2 = tr(Xc Xc^T) + N ||mean||^2
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, as an error
        for start in range(0, d, step):
            block = xp.array(f[:, start:start + step], dtype=xp.float64, order="C", copy=True)
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
    if not (np.isfinite(trace) and np.isfinite(mean_sq)):
        raise_if_not_finite(xp.asarray(f), name, xp)
        raise ValueError(f"{name} is too large: its Gram matrix overflows float64")
    if trace <= CONSTANT_RTOL ** 2 * (trace + n * mean_sq) and not allow_constant:
        raise constant_error(name)
    return gram


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


def rbf_from_features(f, threshold: float, median: str, name: str, xp):
    """RBF Gram matrix of (N, D) features of any real dtype, in place of their Gram matrix; the
    bandwidth is ``threshold`` times the square root of the median squared distance by ``median``."""
    k = centered_gram(f, name, xp)
    norms = xp.diagonal(k).copy()
    k *= -2.0
    k += norms[:, None]
    k += norms[None, :]  # now squared distances
    xp.maximum(k, 0.0, out=k)
    xp.fill_diagonal(k, 0.0)
    k /= -2.0 * threshold ** 2 * median_squared_distance(k, median, name, xp)
    return xp.exp(k, out=k)


def inner_products(fx, fy: Optional[np.ndarray]):
    """X Y^T (Y = X when ``fy`` is None) and the squared norms, in float64, converting one block of
    columns at a time: no float64 copy of the samples (8 N D bytes, twice float32 input). NumPy or
    CuPy arrays."""
    xp = array_module(fx)
    n, d = fx.shape
    m = n if fy is None else fy.shape[0]
    step = max(1, min(d, BLOCK_VALUES // max(n, m)))
    objective = xp.zeros((n, m))
    sq_x = xp.zeros(n)
    sq_y = sq_x if fy is None else xp.zeros(m)
    for start in range(0, d, step):
        bx = xp.array(fx[:, start:start + step], dtype=xp.float64, order="C")
        sq_x += xp.einsum("nd,nd->n", bx, bx)
        by = None
        if fy is not None:
            by = xp.array(fy[:, start:start + step], dtype=xp.float64, order="C")
            sq_y += xp.einsum("nd,nd->n", by, by)
        accumulate_product(objective, bx, by)
    if fy is None:  # exactly symmetric, whatever the BLAS rounds in either half
        mirror_lower(objective)
    return objective, sq_x, sq_y


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
