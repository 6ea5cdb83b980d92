"""The spatio-semantic RSM: each sample flattened to one vector, then a kernel (the usual RSM that
semantic RSMs are compared against)."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from ._backend import resolve
from ._checks import as_finite_samples
from ._floats import distance_rounding, sum_rounding
from ._gram import inner_products
from .kernels import check_kernels, check_sigma, kernels_from_objective

__all__ = ["rsm"]


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

    Notes
    -----
    As :func:`semrsm.semantic_rsm`: samples of any finite magnitude (rescaled by powers of two where
    they lie outside [2^-40, 2^40)), a ValueError for inner products beyond float64, squared
    distances within rounding of 0 set to 0, cosine 0 (and a warning) for an all-zero sample.
    """
    names, single = check_kernels(kernel)
    sigma = check_sigma(sigma)
    # cuBLAS does the work: CuPy input needs CuPy alone, not the CUDA engine.
    backend = resolve(x, y, device=device, engine=False)
    with backend.on_device():
        return backend.output(_rsm(x, y, names, single, sigma, backend.xp))


def _rsm(x, y, names, single, sigma, xp):
    fx = _flat_samples(x, "x", xp)
    fy = fx if y is None else _flat_samples(y, "y", xp)
    if fy.shape[1] != fx.shape[1]:
        raise ValueError(f"x and y differ in features per sample: {fx.shape[1]} vs {fy.shape[1]}")
    objective, sq_x, sq_y, a, b = inner_products(fx, None if y is None else fy)
    # both the inner products and the norms are float64 sums of D products
    terms = fx.shape[1]
    out = kernels_from_objective(objective, sq_x, sq_y, names, symmetric=y is None, sigma=sigma, exponents=(a, b),
                                 rounding=distance_rounding(terms, sum_rounding(terms)), overwrite=True)
    return out[names[0]] if single else out
