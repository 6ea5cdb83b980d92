"""Kernels of an RSM from one number per pair (DESIGN.md, "One number per pair").

Every kernel follows from the inner product of the (aligned) pair and the two squared norms, in
float64; no aligned vectors are ever built:

    inner(i, j)  = obj(i, j)
    cosine(i, j) = obj(i, j) / (||x_i|| ||y_j||)                (0 where a norm is 0)
    sqdist(i, j) = ||x_i||^2 + ||y_j||^2 - 2 obj(i, j)           (clamped at 0)
    rbf(i, j)    = exp(-sqdist / (2 sigma^2))

with sigma^2 the median of the non-zero sqdist over distinct pairs unless ``sigma`` is given.
The authors' code of Wald et al. (2024) uses exp(-sqdist / (2 (sigma + 1e-3)^2)) with sigma the
square root of that median; here sigma is used as it is, so a caller who wants their numbers
exactly passes ``sigma=their_sigma + 1e-3``.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from ._backend import array_module
from ._checks import check_choice, positive_number

__all__ = ["KERNELS", "check_kernels", "check_sigma", "kernels_from_objective", "median_sigma_squared"]

#: Kernel names understood by :func:`semrsm.rsm` and :func:`semrsm.semantic_rsm`.
KERNELS = ("inner", "cosine", "rbf")


def check_kernels(kernel: Union[str, Sequence[str]]) -> tuple[list, bool]:
    """Validate ``kernel`` (a name or a list of names); return (names, whether one name was given)."""
    single = isinstance(kernel, str)
    names = [kernel] if single else list(kernel) if isinstance(kernel, (list, tuple)) else None
    if not names:
        raise ValueError(f"kernel must be one of {', '.join(map(repr, KERNELS))} or a non-empty list of "
                         f"them; got {kernel!r}")
    for name in names:
        check_choice(name, "kernel", KERNELS)
    return list(dict.fromkeys(names)), single


def check_sigma(sigma) -> Optional[float]:
    return positive_number(sigma, "sigma", allow_none=True)


def median_sigma_squared(sqdist, symmetric: bool) -> float:
    """Median of the non-zero squared distances over distinct pairs (i < j when symmetric); 1.0
    when every distance is zero (then every RBF value is 1 whatever sigma is)."""
    xp = array_module(sqdist)
    values = sqdist[xp.triu_indices(sqdist.shape[0], k=1)] if symmetric else sqdist.ravel()
    values = values[values > 0]
    return float(xp.median(values)) if values.size else 1.0


def kernels_from_objective(objective: np.ndarray, sq_norms_x: np.ndarray, sq_norms_y: np.ndarray,
                           kernels: Sequence[str], *, symmetric: bool, sigma: Optional[float] = None) -> dict:
    """RSMs of every kernel in ``kernels`` from the N x M objective and the squared Frobenius norms.

    ``symmetric`` says that x and y are the same samples: the diagonal is then exact (cosine 1,
    distance 0) and the RBF median runs over i < j only. NumPy or CuPy arrays; the RSMs are of the
    same module.
    """
    xp = array_module(objective)
    objective = xp.asarray(objective, dtype=xp.float64)
    nx = xp.asarray(sq_norms_x, dtype=xp.float64)[:, None]
    ny = xp.asarray(sq_norms_y, dtype=xp.float64)[None, :]
    diagonal = xp.arange(objective.shape[0]) if symmetric else None
    out = {}
    for name in kernels:
        if name == "inner":
            out[name] = objective.copy()
        elif name == "cosine":
            scale = xp.sqrt(nx) * xp.sqrt(ny)
            with np.errstate(divide="ignore", invalid="ignore"):
                cos = xp.where(scale > 0, objective / xp.where(scale > 0, scale, 1.0), 0.0)
            cos = xp.clip(cos, -1.0, 1.0)
            if symmetric:
                cos[diagonal, diagonal] = xp.where(nx[:, 0] > 0, 1.0, 0.0)
            out[name] = cos
        elif name == "rbf":
            sqdist = xp.maximum(nx + ny - 2.0 * objective, 0.0)
            if symmetric:
                sqdist[diagonal, diagonal] = 0.0
            s2 = sigma * sigma if sigma is not None else median_sigma_squared(sqdist, symmetric)
            out[name] = xp.exp(-sqdist / (2.0 * s2))
        else:  # check_kernels has run
            raise ValueError(f"unknown kernel {name!r}")
    return out
