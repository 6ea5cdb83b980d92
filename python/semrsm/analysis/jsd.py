"""Agreement of an RSM with the similarity of a classifier's predictions: correlation of the RSM's
entries with the Jensen-Shannon divergence of the predicted class distributions.

Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for Neural Networks", NeurIPS
2024, sec. 5.2: if a representation reflects what the network sees, two samples it finds similar
should receive similar predictions; the paper measures this as the correlation, over pairs i < j,
between the RSM's entry and the Jensen-Shannon divergence (JSD) of the two predicted distributions,
per kernel, with (semantic) and without (spatio-semantic) permutation invariance. Since the RSM is a
similarity and the JSD a divergence, agreement shows as a *negative* correlation.

    JSD(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m),  m = (p + q) / 2,

with logarithms to base 2 by default, so that 0 <= JSD <= 1. (``scipy.spatial.distance.jensenshannon``
returns the Jensen-Shannon *distance*, the square root of this.)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats

from .._checks import as_float64, first_bad_index, format_index, positive_number

__all__ = ["JsdCorrelation", "as_probabilities", "js_divergence", "jsd_correlation"]

#: How far from 1 a row of probabilities may sum (float32 softmax outputs over many classes are off by
#: about 1e-6); rows within it are renormalised before use.
SUM_TOLERANCE = 1e-4


def as_probabilities(probs, name: str = "probs", tolerance: float = SUM_TOLERANCE) -> np.ndarray:
    """``probs`` as a float64 (N, K) array of distributions, or a ValueError that says which row is bad:
    entries must be finite and >= 0, each row must sum to 1 within ``tolerance`` (then it is
    renormalised)."""
    arr = as_float64(probs, name, np, min_ndim=2)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be an (N, K) matrix of class probabilities; got shape {arr.shape}")
    if (arr < 0).any():
        bad = first_bad_index(arr < 0)
        raise ValueError(f"{name}{format_index(bad)} is {float(arr[bad])!r}; probabilities must be >= 0")
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1.0) > tolerance
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise ValueError(f"row {row} of {name} sums to {float(sums[row])!r}, not 1 (within {tolerance}); pass "
                         f"probabilities (e.g. a softmax), not logits or scores")
    return arr / sums[:, None]


def _entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in nats, with 0 log 0 = 0."""
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=axis)


def js_divergence(p, q=None, *, base: float = 2.0) -> np.ndarray:
    """Jensen-Shannon divergences between the rows of ``p`` and of ``q`` (default ``p``).

    Parameters
    ----------
    p : array_like, shape (N, K)
        Distributions, one per row (checked by :func:`as_probabilities`).
    q : array_like, shape (M, K), optional
    base : float
        Base of the logarithm (2: bits, JSD in [0, 1]; ``math.e``: nats, in [0, ln 2]).

    Returns
    -------
    ndarray of float64, shape (N, M)
        JSD(p_i, q_j) = H((p_i + q_j) / 2) - (H(p_i) + H(q_j)) / 2, clipped at 0 against rounding.
    """
    base = positive_number(base, "base")
    if base == 1.0:
        raise ValueError("base must not be 1 (the logarithm to base 1 is undefined)")
    p = as_probabilities(p, "p")
    q = p if q is None else as_probabilities(q, "q")
    if p.shape[1] != q.shape[1]:
        raise ValueError(f"p and q must have the same classes; got K = {p.shape[1]} and {q.shape[1]}")
    n, k = p.shape
    out = np.empty((n, q.shape[0]), dtype=np.float64)
    h_p, h_q = _entropy(p), _entropy(q)
    step = max(1, (1 << 22) // max(1, q.shape[0] * k))  # rows per block: a few tens of MB of mixtures
    for start in range(0, n, step):
        mix = 0.5 * (p[start:start + step, None, :] + q[None, :, :])
        out[start:start + step] = _entropy(mix) - 0.5 * (h_p[start:start + step, None] + h_q[None, :])
    return np.maximum(out, 0.0) / math.log(base)


@dataclasses.dataclass(frozen=True)
class JsdCorrelation:
    """Correlations between an RSM's entries and the JSD of the predictions, over pairs i < j.

    Attributes
    ----------
    pearson, pearson_p : float
        Pearson's r and its two-sided p-value (``scipy.stats.pearsonr``).
    spearman, spearman_p : float
        Spearman's rho and its two-sided p-value (``scipy.stats.spearmanr``).
    pairs : int
        Number of pairs, N (N - 1) / 2.
    base : float
        Base of the logarithm of the JSD (Pearson's r depends on it not at all, being invariant to
        scaling; it is recorded for the divergences themselves).
    """

    pearson: float
    pearson_p: float
    spearman: float
    spearman_p: float
    pairs: int
    base: float


def jsd_correlation(rsm, probs, *, base: float = 2.0) -> JsdCorrelation:
    """Pearson and Spearman correlation between the RSM and the Jensen-Shannon divergence of predictions.

    Over every pair i < j: the RSM's entry ``rsm[i, j]`` against JSD(probs_i, probs_j) (Wald et al.,
    2024, sec. 5.2). An RSM that agrees with the classifier's view of the samples correlates
    negatively (similar representations, similar predictions).

    Parameters
    ----------
    rsm : array_like, shape (N, N)
        A square RSM of the N samples (its upper triangle is used).
    probs : array_like, shape (N, K)
        Predicted class probabilities, rows summing to 1 within ``SUM_TOLERANCE`` (1e-4), entries >= 0.
    base : float
        Base of the logarithm of the JSD (default 2).

    Returns
    -------
    JsdCorrelation

    Raises
    ------
    ValueError
        An RSM that is not square or not N x N for N rows of ``probs``, fewer than 3 samples, NaN or
        infinite entries, invalid probabilities, or a constant RSM or JSD (no correlation is defined).
    """
    sim = as_float64(rsm, "rsm", np, min_ndim=2)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"rsm must be a square N x N matrix; got shape {sim.shape}")
    p = as_probabilities(probs)
    n = sim.shape[0]
    if p.shape[0] != n:
        raise ValueError(f"probs has {p.shape[0]} rows for an RSM of {n} samples")
    if n < 3:
        raise ValueError(f"rsm has {n} sample(s); a correlation over pairs i < j needs at least 3")
    upper = np.triu_indices(n, k=1)
    similarity = sim[upper]
    divergence = js_divergence(p, base=base)[upper]
    for values, what in ((similarity, "the RSM's entries i < j are"), (divergence, "the JSD of every pair is")):
        if np.ptp(values) == 0:
            raise ValueError(f"{what} constant ({values[0]!r}); a correlation is not defined")
    pearson = stats.pearsonr(similarity, divergence)
    spearman = stats.spearmanr(similarity, divergence)
    return JsdCorrelation(float(pearson[0]), float(pearson[1]), float(spearman[0]), float(spearman[1]),
                          len(similarity), float(base))
