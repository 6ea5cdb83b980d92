"""The spatio-semantic RSM: each sample flattened to one vector, then a kernel (the usual RSM that
semantic RSMs are compared against)."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from . import _cuda
from ._validation import array_module, as_finite_samples, is_cupy_array, to_numpy
from .kernels import check_kernels, check_sigma, kernels_from_objective

__all__ = ["rsm"]


def _inner_products(fx, fy: Optional[np.ndarray]):
    """X Y^T (Y = X when ``fy`` is None) and the squared norms, in float64, converting one block of
    columns at a time: no float64 copy of the samples (8 N D bytes, twice float32 input). NumPy or
    CuPy arrays."""
    from .cka import _BLOCK_VALUES, _mirror_lower

    xp = array_module(fx)
    n, d = fx.shape
    m = n if fy is None else fy.shape[0]
    step = max(1, min(d, _BLOCK_VALUES // max(n, m)))
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
        _accumulate_product(objective, bx, by)
    if fy is None:  # exactly symmetric, whatever the BLAS rounds in either half
        _mirror_lower(objective)
    return objective, sq_x, sq_y


def _accumulate_product(objective, bx, by=None):
    """objective += bx by^T in place; with ``by`` None, bx bx^T, of which the CPU writes only the
    lower triangle (BLAS dsyrk)."""
    if is_cupy_array(objective):
        objective += bx @ (bx if by is None else by).T
        return
    from scipy.linalg.blas import dgemm

    from .cka import _syrk_accumulate

    if by is None:
        _syrk_accumulate(objective, bx)
        return
    # objective^T (Fortran view, M x N) += by bx^T, in place
    target = objective.T
    out = dgemm(1.0, by.T, bx.T, beta=1.0, c=target, trans_a=1, overwrite_c=1)
    if out is not target:
        target[...] = out


def _flat_samples(x, name: str, xp):
    arr = as_finite_samples(x, name, ndims=(2, 3, 4, 5), xp=xp)
    return arr.reshape(arr.shape[0], -1)


def rsm(x, y=None, kernel: Union[str, Sequence[str]] = "cosine", *, sigma: Union[float, str, None] = None,
        device: Optional[str] = None):
    """Spatio-semantic RSM: the kernel between flattened samples.

    Parameters
    ----------
    x : array_like, shape (N, ...)
        N samples of any shape (feature maps (C, H, W), token sets (T, D), vectors), flattened.
    y : array_like, shape (M, ...), optional
        Samples to compare against, with the same number of features; default x (N x N RSM).
    kernel : {"inner", "cosine", "rbf"} or list of them
        See :mod:`semrsm.kernels`; a list returns a dict of RSMs keyed by kernel.
    sigma : float or {"median", "authors"}, optional
        RBF bandwidth, or the rule that picks it (:mod:`semrsm.kernels`): "median" (default, also
        None), sqrt of the median non-zero squared distance between distinct samples; "authors",
        the rule of Wald et al.'s code (lower median, plus 1e-3 on sigma).
    device : {None, "cpu", "cuda"}
        None (default): follow the input (CuPy arrays on their GPU, the rest on the CPU); "cuda" on
        NumPy input copies the samples to the GPU and the RSM back.

    Returns
    -------
    ndarray of float64, shape (N, M), or dict of them; CuPy arrays for CuPy input.
    """
    names, single = check_kernels(kernel)
    sigma = check_sigma(sigma)
    on_gpu = _cuda.wants_cuda(x, device) or (device is None and is_cupy_array(y))
    if not on_gpu:
        return _rsm(x, y, names, single, sigma, np)
    # Only CuPy is needed for CuPy input (cuBLAS does the work); device="cuda" asks for the engine.
    cp = array_module(x, y) if device is None else _cuda.cupy_module()
    with cp.cuda.Device(_cuda.input_device(x, y)):
        out = _rsm(x, y, names, single, sigma, cp)
    if is_cupy_array(x) or is_cupy_array(y):
        return out
    return {name: to_numpy(value) for name, value in out.items()} if isinstance(out, dict) else to_numpy(out)


def _rsm(x, y, names, single, sigma, xp):
    fx = _flat_samples(x, "x", xp)
    fy = fx if y is None else _flat_samples(y, "y", xp)
    if fy.shape[1] != fx.shape[1]:
        raise ValueError(f"x and y differ in features per sample: {fx.shape[1]} vs {fy.shape[1]}")
    objective, sq_x, sq_y = _inner_products(fx, None if y is None else fy)
    out = kernels_from_objective(objective, sq_x, sq_y, names, symmetric=y is None, sigma=sigma)
    return out[names[0]] if single else out
