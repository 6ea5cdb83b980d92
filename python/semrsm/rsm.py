"""The spatio-semantic RSM: each sample flattened to one vector, then a kernel (the usual RSM that
semantic RSMs are compared against)."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from ._validation import as_real_array, first_bad_index, format_index
from .kernels import check_kernels, check_sigma, kernels_from_objective

__all__ = ["rsm"]


def _flat_samples(x, name: str) -> np.ndarray:
    arr = as_real_array(x, name, ndims=(2, 3, 4, 5))
    bad = first_bad_index(~np.isfinite(arr))
    if bad is not None:
        raise ValueError(f"{name}{format_index(bad)} is {arr[bad]}; samples must be finite")
    return arr.reshape(arr.shape[0], -1)


def rsm(x, y=None, kernel: Union[str, Sequence[str]] = "cosine", *, sigma: Optional[float] = None):
    """Spatio-semantic RSM: the kernel between flattened samples.

    Parameters
    ----------
    x : array_like, shape (N, ...)
        N samples of any shape (feature maps (C, H, W), token sets (T, D), vectors), flattened.
    y : array_like, shape (M, ...), optional
        Samples to compare against, with the same number of features; default x (N x N RSM).
    kernel : {"inner", "cosine", "rbf"} or list of them
        See :mod:`semrsm.kernels`; a list returns a dict of RSMs keyed by kernel.
    sigma : float, optional
        RBF bandwidth; default sqrt of the median non-zero squared distance between distinct samples.

    Returns
    -------
    ndarray of float64, shape (N, M), or dict of them.
    """
    names, single = check_kernels(kernel)
    sigma = check_sigma(sigma)
    fx = _flat_samples(x, "x")
    fy = fx if y is None else _flat_samples(y, "y")
    if fy.shape[1] != fx.shape[1]:
        raise ValueError(f"x and y differ in features per sample: {fx.shape[1]} vs {fy.shape[1]}")
    fx64 = fx.astype(np.float64, copy=False)
    fy64 = fx64 if y is None else fy.astype(np.float64, copy=False)
    objective = fx64 @ fy64.T
    sq_x = np.einsum("nd,nd->n", fx64, fx64)
    sq_y = sq_x if y is None else np.einsum("nd,nd->n", fy64, fy64)
    out = kernels_from_objective(objective, sq_x, sq_y, names, symmetric=y is None, sigma=sigma)
    return out[names[0]] if single else out
