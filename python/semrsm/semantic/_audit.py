"""Audit of an approximate semantic RSM: a random sample of its pairs solved again exactly, and the
measured matching quality reported with the result.

Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for Neural Networks", NeurIPS
2024, sec. 4 (approximations): the quality of a matcher on a pair is its objective over the optimum,
obj(i, j) / opt(i, j). The paper measures it on its own networks; how close an approximation comes
depends on the features, so the audit measures it on the caller's. The sample is drawn from the pairs
the call solves (i < j when symmetric), seeded, and re-solved by the exact matcher on the engine the
call already runs on (the C++ engine or the GPU), so the audit costs about ``count`` exact pairs.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Optional

import numpy as np

from .. import _core
from .._backend import to_numpy
from .._checks import check_count
from ._run import ListedPairs, Pairs, run_chunks

__all__ = ["DEFAULT_THRESHOLD", "AuditPlan", "AuditReport", "MatchingQualityWarning", "matching_quality",
           "sample_pairs"]

#: Default of ``audit_threshold``: a median or worst quality below it warns.
DEFAULT_THRESHOLD = 0.95


class MatchingQualityWarning(UserWarning):
    """An audited approximate matcher fell below the quality threshold on the sampled pairs."""


def matching_quality(objective, optimum) -> np.ndarray:
    """Quality of a matching, objective / optimum, per pair (float64).

    Where the optimum is positive (every pair of non-negative features, such as ReLU maps, that are
    not orthogonal) this is the ratio of Wald et al.; in general it is 1 - (optimum - objective) /
    |optimum|, which is the ratio for a positive optimum and the relative shortfall otherwise. It is
    capped at 1, since float32 rounding of the cost blocks can put an approximation a few ulps above
    the optimum; a pair whose objective reaches the optimum has quality 1 (also when both are 0).
    """
    objective = np.asarray(objective, dtype=np.float64)
    optimum = np.asarray(optimum, dtype=np.float64)
    shortfall = optimum - objective
    with np.errstate(divide="ignore", invalid="ignore"):
        quality = 1.0 - shortfall / np.abs(optimum)
    return np.where(shortfall <= 0, 1.0, quality)


def sample_pairs(n: int, m: int, symmetric: bool, count: int, seed: int) -> np.ndarray:
    """``count`` distinct pairs drawn uniformly at random (seeded) from those an RSM solves: (i, j > i)
    of n samples when symmetric, every (i, j) of an n x m grid otherwise. (P, 2) int64 in row order;
    all pairs when ``count`` is at least their number."""
    pairs = Pairs(n, m, symmetric)
    if count >= pairs.count:
        k = np.arange(pairs.count, dtype=np.int64)
    else:
        k = np.sort(np.random.default_rng(seed).choice(pairs.count, size=count, replace=False)).astype(np.int64)
    i, j = pairs.of(k)
    return np.stack((i, j), axis=1)


@dataclasses.dataclass(frozen=True)
class AuditReport:
    """What the audit of an approximate :func:`semrsm.semantic_rsm` measured on its sampled pairs.

    Attributes
    ----------
    matcher : str
        The matcher audited.
    pairs : ndarray of int64, shape (P, 2)
        The sampled pairs (i, j), rows of x and y (i < j when symmetric).
    objective, optimum : ndarray of float64, shape (P,)
        The matcher's objective on each pair and the exact optimum.
    quality : ndarray of float64, shape (P,)
        objective / optimum (:func:`matching_quality`).
    median, p05, worst : float
        Median, 5th percentile and minimum of ``quality`` (NaN when no pair was sampled).
    worst_pair : tuple of int or None
        The pair of the worst quality.
    seconds : float
        Time of the exact solves.
    threshold : float
        ``audit_threshold`` of the call.
    """

    matcher: str
    pairs: np.ndarray
    objective: np.ndarray
    optimum: np.ndarray
    quality: np.ndarray
    median: float
    p05: float
    worst: float
    worst_pair: Optional[tuple]
    seconds: float
    threshold: float

    @property
    def count(self) -> int:
        """Number of audited pairs."""
        return len(self.quality)

    @property
    def passed(self) -> bool:
        """Whether median and worst quality are both at or above the threshold (True without pairs)."""
        return self.count == 0 or (self.median >= self.threshold and self.worst >= self.threshold)

    def quantile(self, q) -> float:
        """The ``q``-quantile of the quality (NaN without pairs)."""
        return float(np.quantile(self.quality, q)) if self.count else float("nan")

    def __str__(self) -> str:
        if not self.count:
            return f"audit of matcher {self.matcher!r}: no pairs to audit"
        return (f"audit of matcher {self.matcher!r} on {self.count} pairs: quality median {self.median:.4f}, "
                f"5th percentile {self.p05:.4f}, worst {self.worst:.4f} (pair {self.worst_pair}); "
                f"exact solves {self.seconds:.2f} s")


@dataclasses.dataclass(frozen=True)
class AuditPlan:
    """The checked audit options of a call: how many pairs (a count, or a fraction of the pairs), the
    threshold below which the audit warns, and the seed of the sample."""

    count: Optional[int]
    fraction: Optional[float]
    threshold: float
    seed: int

    @classmethod
    def check(cls, audit, threshold, seed) -> Optional["AuditPlan"]:
        """None when ``audit`` is None or False (no audit); otherwise the checked plan."""
        if audit is None or audit is False:
            return None
        count = fraction = None
        if isinstance(audit, (int, np.integer)) and not isinstance(audit, (bool, np.bool_)):
            count = check_count(audit, "audit")
        elif isinstance(audit, (float, np.floating)) and 0.0 < float(audit) <= 1.0:
            fraction = float(audit)
        else:
            raise ValueError(f"audit must be None, a number of pairs (an integer >= 1) or a fraction of the "
                             f"pairs in (0, 1]; got {audit!r}")
        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            raise TypeError(f"audit_threshold must be a number in [0, 1]; got {threshold!r}") from None
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"audit_threshold must be a number in [0, 1]; got {threshold!r}")
        return cls(count, fraction, threshold, check_count(seed, "audit_seed", minimum=0))

    def size(self, total: int) -> int:
        """Pairs to audit out of ``total``."""
        if self.fraction is not None:
            return min(total, max(1, int(round(self.fraction * total))))
        return min(total, self.count)

    def prepare(self, samples, options, engine) -> "Audit":
        """The sample and an exact solver on ``engine``, made before the run so that an exact block
        that does not fit the memory budget is reported before any work is done."""
        n, m, S = samples.shape[:3]
        if engine.xp is not np and S > _core.CUDA_MAX_COLUMNS:
            raise ValueError(f"audit: the GPU solves exact blocks of at most {_core.CUDA_MAX_COLUMNS} positions and "
                             f"these samples have S = {S}; audit on the CPU (device='cpu')")
        total = n * (n - 1) // 2 if samples.symmetric else n * m
        pairs = sample_pairs(n, m, samples.symmetric, self.size(total), self.seed)
        exact = dataclasses.replace(options, matcher="exact", return_perm=False, return_bound=False, audit=None)
        try:
            solve, chunk = engine.prepare(samples, exact)
        except ValueError as exc:
            raise ValueError(f"the audit's exact solves do not fit: {exc}") from None
        return Audit(self, options.matcher, pairs, solve, chunk, engine)


@dataclasses.dataclass
class Audit:
    """A prepared audit: ``report(objective)`` solves the sample exactly once the run is done."""

    plan: AuditPlan
    matcher: str
    pairs: np.ndarray
    solve: object
    chunk: int
    engine: object

    def report(self, objective, exponents) -> AuditReport:
        """Solve the sampled pairs exactly, compare with ``objective`` (the call's N x M objectives, of
        the engine's array module, for the samples as Samples holds them: multiplied by 2^a_i and
        2^b_j, ``exponents = (a, b)``), and warn when the quality falls below the threshold. The
        report's objectives and optima are at the samples' own scale."""
        xp = self.engine.xp
        start = time.perf_counter()
        optimum = xp.empty(len(self.pairs), dtype=xp.float64)
        listed = ListedPairs(self.pairs[:, 0], self.pairs[:, 1])
        run_chunks(listed, self.chunk, False, self.solve, "exact", optimum, None, None, self.engine)
        optimum = to_numpy(optimum)
        seconds = time.perf_counter() - start
        approx = to_numpy(objective[listed.slice(0, listed.count, xp)])
        quality = matching_quality(approx, optimum)  # a ratio: the same at any scale
        scale = -(to_numpy(exponents[0])[self.pairs[:, 0]] + to_numpy(exponents[1])[self.pairs[:, 1]])
        approx, optimum = np.ldexp(approx, scale), np.ldexp(optimum, scale)
        if len(quality):
            worst = int(np.argmin(quality))
            summary = (float(np.median(quality)), float(np.quantile(quality, 0.05)), float(quality[worst]),
                       tuple(int(v) for v in self.pairs[worst]))
        else:
            summary = (float("nan"), float("nan"), float("nan"), None)
        report = AuditReport(self.matcher, self.pairs, approx, optimum, quality, *summary, seconds,
                             self.plan.threshold)
        if not report.passed:
            below = [f"{name} {value:.4f}" for name, value in (("median", report.median), ("worst", report.worst))
                     if value < report.threshold]
            warnings.warn(f"semantic_rsm: matcher {self.matcher!r} reached a quality (objective / optimum) of "
                          f"{' and '.join(below)} on {report.count} audited pairs, below audit_threshold="
                          f"{report.threshold}; a larger window or topk, or matcher='exact', matches closer "
                          f"(worst pair {report.worst_pair})", MatchingQualityWarning, stacklevel=4)
        return report
