"""Matchers benchmarked against the optimum on the caller's own features.

Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for Neural Networks", NeurIPS
2024, sec. 4 and Fig. 5: the approximations (Greedy, TopK-Greedy, Batch-Optimal) trade matching
quality, objective / optimum, for speed, and how much they give up depends on the features (the
spatial size, how peaked the position norms are). :func:`matcher_study` measures both on a seeded
sample of the caller's pairs: every matcher and window, the exact matcher, and the Hungarian baseline
as the authors' code computes it (a NumPy cost matrix and ``scipy.optimize.linear_sum_assignment``
per pair, in Python), all on the same pairs.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .. import _core
from .._checks import check_choice, check_count
from ..benchmarking import median_seconds
from ..semantic import MATCHER_ALIASES, MATCHERS, matching_quality, pair_objectives, sample_pairs
from ..semantic._plan import LAYOUTS, _layout_of, _positions
from ._table import Table

__all__ = ["COLUMNS", "DEFAULT_MATCHERS", "DEFAULT_WINDOWS", "hungarian_objectives", "matcher_study"]

#: The approximations studied unless told otherwise, and their windows (k of Batch-Optimal, K of
#: TopK-Greedy).
DEFAULT_MATCHERS = ("near_exact", "batch_optimal", "topk_greedy", "greedy")
DEFAULT_WINDOWS = (32, 64, 128)
#: Matchers that take a window: ``window`` for batch_optimal, ``topk`` for topk_greedy.
WINDOWED = ("batch_optimal", "topk_greedy")

#: Columns of the study's table.
COLUMNS = ("layer", "S", "C", "matcher", "window", "pairs", "quality_median", "quality_p5", "quality_worst",
           "ms_per_pair", "pairs_per_s", "vs_exact", "vs_hungarian")
_FORMATS = {"quality_median": ".4f", "quality_p5": ".4f", "quality_worst": ".4f", "ms_per_pair": ".4g",
            "pairs_per_s": ".4g", "vs_exact": ".3g", "vs_hungarian": ".3g"}


def hungarian_objectives(xs: np.ndarray, ys: np.ndarray, pairs: np.ndarray, progress=None) -> np.ndarray:
    """The optimum of each pair as the authors' code computes it: per pair, in Python, the S x S cost
    matrix ``a @ b.T`` with NumPy (in the samples' dtype), ``scipy.optimize.linear_sum_assignment``
    on it (maximised), and the objective from the permuted vectors in float64.

    NumPy's BLAS runs on one thread here: on products this small several threads only contend, and
    on a loaded machine they can stall for milliseconds a product, which would flatter the engine
    (scipy's solver, which takes most of the time at every S, is single-threaded anyway).

    Parameters
    ----------
    xs, ys : ndarray, shape (N, S, C) and (M, S, C)
        Position sets.
    pairs : ndarray of int, shape (P, 2)
        (i, j): xs[i] against ys[j].
    progress : tqdm bar, optional
        Advanced by one per pair.

    Returns
    -------
    ndarray of float64, shape (P,)
    """
    out = np.empty(len(pairs), dtype=np.float64)
    with threadpool_limits(limits=1, user_api="blas"):
        for k, (i, j) in enumerate(pairs):
            a, b = xs[i], ys[j]
            rows, cols = linear_sum_assignment(a @ b.T, maximize=True)
            out[k] = float(np.einsum("sc,sc->", a[rows].astype(np.float64), b[cols].astype(np.float64)))
            if progress is not None:
                progress.update(1)
    return out


def _timed(call, repeats: int):
    """(median wall time of ``repeats`` calls, what the last call returned)."""
    results = []
    seconds = median_seconds(lambda: results.append(call()), repeats)
    return seconds, results[-1]


def _study_layer(name, x, matchers, windows, count, seed, layout, baseline, threads, repeats, progress):
    positions = _positions(x, "x", layout or _layout_of(x, "x"), np)
    n, S, C = positions.shape
    if n < 2:
        raise ValueError(f"layer {name!r} has {n} sample(s); a study needs pairs of at least 2")
    pairs = sample_pairs(n, n, True, count, seed)
    used = np.unique(pairs)  # only the samples in the pairs: their norms are all a call prepares
    subset = np.ascontiguousarray(positions[used])
    local = np.searchsorted(used, pairs)
    P = len(pairs)
    plan = [("exact", None)]
    for matcher in matchers:
        if matcher in WINDOWED:
            plan += [(matcher, w) for w in windows if w < S]  # a window of S or more is the exact matcher
        else:
            plan.append((matcher, None))
    total = P * (len(plan) + baseline)
    with tqdm(total=total, unit="pair", desc=f"study {name} (S = {S})", delay=0 if progress else 2.0,
              disable=progress is False) as bar:
        measured = {}
        for matcher, window in plan:
            options = {"window": window} if matcher == "batch_optimal" else \
                {"topk": window} if matcher == "topk_greedy" else {}
            seconds, objective = _timed(
                lambda: pair_objectives(subset, local, matcher=matcher, layout="NSC", threads=threads,
                                        progress=False, **options), repeats)
            measured[matcher, window] = (seconds, objective)
            bar.update(P)
        if baseline:
            seconds, objective = _timed(lambda: hungarian_objectives(positions, positions, pairs, bar),
                                                 1)
            measured["hungarian", None] = (seconds, objective)
    optimum = measured["hungarian", None][1] if baseline else measured["exact", None][1]
    exact_seconds = measured["exact", None][0]
    hungarian_seconds = measured["hungarian", None][0] if baseline else None
    rows = []
    order = ([("hungarian", None)] if baseline else []) + plan
    for matcher, window in order:
        seconds, objective = measured[matcher, window]
        quality = matching_quality(objective, optimum)
        per_pair = seconds / P
        rows.append((name, S, C, matcher, window, P, float(np.median(quality)), float(np.quantile(quality, 0.05)),
                     float(quality.min()), 1e3 * per_pair, 1.0 / per_pair if per_pair > 0 else None,
                     exact_seconds / seconds if seconds > 0 else None,
                     hungarian_seconds / seconds if baseline and seconds > 0 else None))
    return rows


def matcher_study(x, matchers: Sequence[str] = DEFAULT_MATCHERS, windows: Sequence[int] = DEFAULT_WINDOWS, *,
                  pairs: Optional[int] = 200, seed: int = 0, layout: Optional[str] = None, baseline: bool = True,
                  threads: Optional[int] = None, repeats: int = 3, progress: Optional[bool] = None) -> Table:
    """Quality and speed of the semantic matchers against the optimum, on a sample of the caller's pairs.

    For every layer, ``pairs`` distinct pairs (i < j) are drawn with ``seed`` (the same pairs for every
    matcher, and for every layer of the same N), and solved by: the Hungarian baseline as the authors'
    code computes it (:func:`hungarian_objectives`, one pair at a time in Python), the exact matcher
    of the engine, and each matcher of ``matchers`` with each window of ``windows`` (the window of
    Batch-Optimal, K of TopK-Greedy; windows of S positions or more are the exact matcher and are left
    out). Quality is objective / optimum per pair (:func:`semrsm.semantic.matching_quality`), the
    optimum being the baseline's (the exact matcher's with ``baseline=False``).

    Parameters
    ----------
    x : array_like or mapping of str to array_like
        One layer's samples, or several layers by name (studied one after another, in order).
    matchers : sequence of str
        Approximations to study (any matcher of :func:`semrsm.semantic_rsm`; "exact" is always
        studied).
    windows : sequence of int
        Windows of the windowed matchers.
    pairs : int or None
        Pairs per layer; None: all N (N - 1) / 2.
    seed : int
        Seed of the sample of pairs.
    layout : {None, "NCHW", "NTD", "NSC"}
        Layout of every layer; None (default): from each layer's shape, as :func:`semrsm.semantic_rsm`.
    baseline : bool
        Time the Hungarian baseline (and take the optimum from it). At S in the thousands scipy
        takes seconds per pair; ``False`` skips it.
    threads : int, optional
        Threads of the engine (default all cores). The baseline runs in one Python thread, as the
        authors' code does (NumPy's BLAS may use several for the cost matrix).
    repeats : int
        Engine timings are the median of this many runs (the baseline runs once). A time per pair
        is the wall time of one call for all the pairs over their number, so it includes the call's
        fixed cost (checks, norms, threads), small beside the pairs once there are a few dozen.
    progress : bool, optional
        A progress bar per layer: True always, False never, None after two seconds.

    Returns
    -------
    Table
        One row per layer and method (``hungarian``, ``exact``, then the approximations), columns
        :data:`COLUMNS`: layer, S, C, matcher, window (None where the matcher has none), pairs,
        quality_median, quality_p5, quality_worst, ms_per_pair, pairs_per_s, vs_exact and
        vs_hungarian (speed-ups: the reference's time over the row's).
    """
    layers = dict(x) if isinstance(x, Mapping) else {"x": x}
    if not layers:
        raise ValueError("x holds no layers")
    if isinstance(matchers, str):
        matchers = [matchers]
    matchers = list(dict.fromkeys(m for m in (check_choice(m, "matcher", MATCHERS, MATCHER_ALIASES)
                                              for m in matchers) if m != "exact"))
    windows = sorted({check_count(w, "window") for w in ([windows] if isinstance(windows, int) else windows)})
    if not windows and any(m in WINDOWED for m in matchers):
        raise ValueError(f"windows is empty but {', '.join(m for m in matchers if m in WINDOWED)} needs one")
    layout = None if layout is None else check_choice(layout, "layout", LAYOUTS)
    count = np.iinfo(np.int64).max if pairs is None else check_count(pairs, "pairs")
    seed = check_count(seed, "seed", minimum=0)
    repeats = check_count(repeats, "repeats")
    if progress not in (None, True, False):
        raise ValueError(f"progress must be True, False or None; got {progress!r}")
    rows = []
    for name, layer in layers.items():
        rows += _study_layer(str(name), layer, matchers, windows, count, seed, layout, bool(baseline), threads,
                             repeats, progress)
    reference = "the Hungarian baseline (scipy, per pair)" if baseline else "the exact matcher"
    engine_threads = _core.cpu_count() if threads is None else threads
    title = (f"Matcher study: quality = objective / optimum of {reference}; times per pair (engine on "
             f"{engine_threads} thread(s), median of {repeats}; baseline in one Python thread)")
    return Table(COLUMNS, rows, _FORMATS, title)
