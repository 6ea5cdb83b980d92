"""The measures Kornblith et al. (ICML 2019) compare CKA against: CCA, SVCCA, PWCCA, regression.

All of them look at the subspaces the two representations span over the N samples. With centred
features X (N, p1) and Y (N, p2) and orthonormal bases Q_X, Q_Y of their column spaces, the
canonical correlations rho_i are the singular values of Q_X^T Q_Y (Bjorck and Golub, 1973), and

    mean R^2_CCA = sum rho_i^2 / p,   mean rho_CCA = sum rho_i / p,   p = min(p1, p2)
    SVCCA        = mean rho_CCA after projecting each side onto the top singular directions
                   that keep a fraction of its variance (Raghu et al., NeurIPS 2017)
    PWCCA        = sum alpha_i rho_i, alpha_i proportional to sum_j |<h_i, x_j>| where h_i are
                   the canonical variates of X and x_j its neurons (Morcos et al., NeurIPS 2018)
    R^2_LR       = ||Q_Y^T X||_F^2 / ||X||_F^2 (linear regression fit of X from Y)

Bases come from the SVD, dropping directions below rounding (so a constant or duplicated
feature is harmless); p1, p2 are these numerical ranks. CCA, SVCCA and R^2_LR do not change when
either side is multiplied by an invertible matrix, which is why Kornblith et al. argue they cannot
tell apart representations that CKA can. CCA is degenerate when p1 + p2 >= N (some canonical
correlations are 1 whatever the data), which is refused. NumPy or CuPy, float64 throughout.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from ._backend import array_module, to_numpy
from ._checks import as_features, same_samples
from ._gram import center_features

__all__ = ["canonical_correlations", "mean_r2_cca", "mean_rho_cca", "svcca", "pwcca", "r2_lr"]

#: Singular values below this fraction of the largest (times max(N, D)) are rounding, not signal.
_RANK_RTOL = np.finfo(np.float64).eps


class Subspace:
    """Centred features as ``U diag(s) Vt``, truncated to their numerical rank."""

    __slots__ = ("u", "s", "vt", "name", "n")

    def __init__(self, x, name: str):
        xp = array_module(x)
        xc = center_features(x, name, xp)
        u, s, vt = xp.linalg.svd(xc, full_matrices=False)
        s_host = to_numpy(s)
        rank = int(np.count_nonzero(s_host > _RANK_RTOL * max(xc.shape) * s_host[0]))
        self.u, self.s, self.vt = u[:, :rank], s[:rank], vt[:rank]
        self.name, self.n = name, xc.shape[0]

    @property
    def rank(self) -> int:
        return int(self.s.shape[0])

    def truncated(self, keep: Union[float, int]) -> "Subspace":
        """The top singular directions: ``keep`` of them (int) or keeping that fraction of the
        variance (float in (0, 1])."""
        if isinstance(keep, (bool, np.bool_)) or not isinstance(keep, (int, float, np.integer, np.floating)):
            raise TypeError(f"keep must be a fraction of variance in (0, 1] or a number of "
                            f"dimensions; got {keep!r}")
        if isinstance(keep, (int, np.integer)):
            if keep < 1:
                raise ValueError(f"keep must be at least 1 dimension; got {keep}")
            k = min(int(keep), self.rank)
        else:
            if not 0.0 < keep <= 1.0:
                raise ValueError(f"keep as a fraction of variance must be in (0, 1]; got {keep}")
            var = to_numpy(self.s) ** 2
            cumulative = np.cumsum(var) / var.sum()
            k = min(int(np.searchsorted(cumulative, keep * (1 - 1e-12))) + 1, self.rank)
        out = object.__new__(Subspace)
        out.u, out.s, out.vt = self.u[:, :k], self.s[:k], self.vt[:k]
        out.name, out.n = self.name, self.n
        return out


def _check_dimensions(a: Subspace, b: Subspace) -> None:
    if a.rank + b.rank >= a.n:
        raise ValueError(f"CCA needs fewer dimensions than samples: {a.name} spans {a.rank} and "
                         f"{b.name} {b.rank} dimensions over N = {a.n} samples, so at least "
                         f"{a.rank + b.rank - a.n + 1} canonical correlation(s) would be 1 whatever "
                         f"the data; use more samples, or svcca() with a smaller keep")


def _svd_of_overlap(a: Subspace, b: Subspace, compute_uv: bool):
    _check_dimensions(a, b)
    xp = array_module(a.u)
    overlap = a.u.T @ b.u
    if compute_uv:
        p, rho, _ = xp.linalg.svd(overlap, full_matrices=False)
        return p, xp.clip(rho, 0.0, 1.0)
    return None, xp.clip(xp.linalg.svd(overlap, compute_uv=False), 0.0, 1.0)


def _subspaces(X, Y):
    xp = array_module(X, Y)
    fx = as_features(X, "X", xp, min_samples=3)
    fy = as_features(Y, "Y", xp, min_samples=3)
    same_samples(fx.shape[0], fy.shape[0])
    return Subspace(fx, "X"), Subspace(fy, "Y")


def rho_of(a: Subspace, b: Subspace) -> np.ndarray:
    return to_numpy(_svd_of_overlap(a, b, False)[1])


def pwcca_of(a: Subspace, b: Subspace) -> float:
    p, rho = _svd_of_overlap(a, b, True)
    xp = array_module(p)
    # Canonical variates of X are H = U_X P; their loadings on the neurons of X are
    # H^T X = P^T U_X^T U_X S V^T = P^T S V^T.
    loadings = p.T @ (a.s[:, None] * a.vt)
    alpha = xp.abs(loadings).sum(axis=1)
    return float((alpha / alpha.sum()) @ rho)


def r2_lr_of(a: Subspace, b: Subspace) -> float:
    if b.rank >= b.n - 1:
        raise ValueError(f"linear regression from {b.name} is degenerate: it spans {b.rank} "
                         f"dimensions over N = {b.n} samples, so it fits anything exactly; use "
                         f"more samples than dimensions")
    # X = U_X S V^T, so ||Q_Y^T X||_F = ||(U_Y^T U_X) S||_F and ||X||_F^2 = sum S^2
    xp = array_module(a.u)
    explained = float(xp.linalg.norm((b.u.T @ a.u) * a.s[None, :])) ** 2
    return min(1.0, explained / float((a.s ** 2).sum()))


def canonical_correlations(X, Y) -> np.ndarray:
    """Canonical correlations between two representations of the same N samples.

    Parameters
    ----------
    X, Y : array_like or cupy.ndarray, shape (N, ...)
        Features (flattened per sample); the numerical ranks p1, p2 of the centred features must
        satisfy p1 + p2 < N.

    Returns
    -------
    ndarray of float64, shape (min(p1, p2),)
        Canonical correlations in [0, 1], largest first (NumPy, whatever the input).

    Raises
    ------
    ValueError
        Different N, non-finite values, a constant representation, or p1 + p2 >= N.
    """
    return rho_of(*_subspaces(X, Y))


def mean_r2_cca(X, Y) -> float:
    """Mean squared canonical correlation, R^2_CCA (Yanai's GCD); symmetric, in [0, 1].

    Parameters and errors as :func:`canonical_correlations`.
    """
    return float(np.mean(canonical_correlations(X, Y) ** 2))


def mean_rho_cca(X, Y) -> float:
    """Mean canonical correlation, rho_CCA; symmetric, in [0, 1].

    Parameters and errors as :func:`canonical_correlations`.
    """
    return float(np.mean(canonical_correlations(X, Y)))


def svcca(X, Y, keep: Union[float, int] = 0.99) -> float:
    """SVCCA (Raghu et al., 2017): mean canonical correlation of the top singular directions.

    Parameters
    ----------
    X, Y : array_like or cupy.ndarray, shape (N, ...)
        Features (flattened per sample).
    keep : float in (0, 1] or int
        A fraction of the variance each side keeps (Kornblith et al. keep 0.99), or the number
        of singular directions kept on each side.

    Returns
    -------
    float
        Mean rho_CCA of the reduced representations, in [0, 1].
    """
    a, b = _subspaces(X, Y)
    return float(np.mean(rho_of(a.truncated(keep), b.truncated(keep))))


def pwcca(X, Y) -> float:
    """Projection-weighted CCA (Morcos et al., 2018); not symmetric: weights come from X.

    Each canonical correlation is weighted by how much of X's neurons its canonical variate
    accounts for, ``alpha_i ~ sum_j |<h_i, x_j>|``, with weights summing to 1.

    Parameters and errors as :func:`canonical_correlations`; returns a float in [0, 1].
    """
    return pwcca_of(*_subspaces(X, Y))


def r2_lr(X, Y) -> float:
    """R^2 of the least-squares linear fit of X from Y, ``||Q_Y^T X||_F^2 / ||X||_F^2``.

    Not symmetric: the fraction of X's (centred) variance that a linear map of Y explains, as in
    Kornblith et al.'s Table 1. Parameters and errors as :func:`canonical_correlations`.
    """
    return r2_lr_of(*_subspaces(X, Y))
