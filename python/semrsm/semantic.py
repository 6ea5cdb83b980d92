"""Semantic RSMs (Wald et al., NeurIPS 2024): each pair of samples is aligned by the permutation of
positions that maximises their inner product before the kernel is applied.

The engine returns one number per pair, obj(i, j) = max_P sum_s <x_i[s], y_j[P(s)]>, in float64; the
kernels follow from it and the norms (:mod:`semrsm.kernels`), so one solve serves every kernel.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import numpy as np

from . import _core
from ._validation import as_real_array, first_bad_index, format_index
from .kernels import check_kernels, check_sigma, kernels_from_objective

__all__ = ["MATCHERS", "LAYOUTS", "semantic_rsm"]

#: Matchers of :func:`semantic_rsm`. "jv" and "auction" are exact (auction: to within its tiny
#: epsilon); "greedy", "topk_greedy" and "batch_optimal" are the approximations of the paper.
MATCHERS = ("jv", "auction", "greedy", "topk_greedy", "batch_optimal")
#: Input layouts: (N, C, H, W) feature maps, (N, T, D) tokens, (N, S, C) position sets.
LAYOUTS = ("NCHW", "NTD", "NSC")


def _positions(arr, name: str, layout: str) -> np.ndarray:
    """Validate one input and return it as (N, S, C), C-contiguous float32/float64."""
    arr = as_real_array(arr, name, ndims=(4,) if layout == "NCHW" else (3,))
    if 0 in arr.shape[1:]:
        raise ValueError(f"{name} has no positions or no channels (shape {arr.shape}, layout {layout})")
    bad = first_bad_index(~np.isfinite(arr))
    if bad is not None:
        raise ValueError(f"{name}{format_index(bad)} is {arr[bad]}; samples must be finite")
    if layout == "NCHW":
        n, c, h, w = arr.shape
        arr = np.ascontiguousarray(arr.reshape(n, c, h * w).transpose(0, 2, 1))
    return arr


def _row_sq_norms(x: np.ndarray) -> np.ndarray:
    """Squared norm of every position, (N, S) float64, without a float64 copy of all of x."""
    out = np.empty(x.shape[:2], dtype=np.float64)
    step = max(1, int(2**24 // max(1, x.shape[1] * x.shape[2])))
    for start in range(0, x.shape[0], step):
        block = x[start:start + step].astype(np.float64)
        out[start:start + step] = np.einsum("nsc,nsc->ns", block, block)
    return out


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def _check_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


class _Pairs:
    """The pairs to solve, enumerated row by row without storing them: (i, j > i) when symmetric,
    every (i, j) otherwise."""

    def __init__(self, n: int, m: int, symmetric: bool):
        self.n, self.m, self.symmetric = n, m, symmetric
        if symmetric:
            counts = np.arange(n - 1, -1, -1, dtype=np.int64)  # row i has n - 1 - i pairs
        else:
            counts = np.full(n, m, dtype=np.int64)
        self.start = np.concatenate([[0], np.cumsum(counts)])
        self.count = int(self.start[-1])

    def slice(self, lo: int, hi: int):
        k = np.arange(lo, hi, dtype=np.int64)
        i = np.searchsorted(self.start, k, side="right") - 1
        j = k - self.start[i] + (i + 1 if self.symmetric else 0)
        return i.astype(np.int64), j.astype(np.int64)


def _inverse(perm: np.ndarray) -> np.ndarray:
    inv = np.empty_like(perm)
    np.put_along_axis(inv, perm, np.broadcast_to(np.arange(perm.shape[-1], dtype=perm.dtype), perm.shape),
                      axis=-1)
    return inv


def semantic_rsm(x, y=None, *, kernel: Union[str, Sequence[str]] = "cosine", matcher: str = "jv",
                 window: int = 128, topk: Optional[int] = None, layout: str = "NCHW",
                 return_perm=False, return_bound: bool = False, sigma: Optional[float] = None,
                 threads: Optional[int] = None, max_memory: Optional[int] = None, progress=None):
    """Semantic RSM of Wald et al. (2024): kernels between samples aligned by the best permutation.

    For samples x_i and y_j, each a set of S vectors in R^C (positions of a feature map, tokens),
    obj(i, j) = max over permutations P of sum_s <x_i[s], y_j[P(s)]>, a maximisation LAP on the
    S x S block X_i Y_j^T, and the kernel is applied to the aligned pair (:mod:`semrsm.kernels`).

    Parameters
    ----------
    x : array_like
        Samples: (N, C, H, W) for layout "NCHW" (S = H*W positions of C channels), (N, T, D) for
        "NTD" (S = T tokens, C = D) or (N, S, C) for "NSC". float32 is solved in float32 (the cost
        blocks; objectives are always recomputed in float64), other types in float64.
    y : array_like, optional
        Samples to compare against, same layout, S and C; default x, the symmetric N x N case, where
        only pairs i < j are solved (the diagonal is exact: obj(i, i) = ||x_i||^2).
    kernel : {"inner", "cosine", "rbf"} or list of them
        A list returns a dict of RSMs keyed by kernel, all from one solve per pair.
    matcher : {"jv", "auction", "greedy", "topk_greedy", "batch_optimal"}
        "jv": exact. The engine solves it with its fastest exact solver on these costs, an
        epsilon-scaling auction finished by Jonker-Volgenant shortest augmenting paths ("hybrid"
        in :func:`semrsm.solve`), which returns the same optimum as JV. "auction": epsilon-scaling
        auction, within 1e-9 of the block's cost range of the optimum. "greedy": the greedy rule of the
        paper on the full block, as the paper states it (the authors' code ranks along the other
        axis of the score matrix; cpp/lap/greedy.h). "topk_greedy": the ``topk`` positions of largest norm of each sample
        matched to each other exactly, the others greedily. "batch_optimal": positions of each
        sample ranked by norm (once per sample), ranks cut into windows of ``window``, each
        window solved exactly; only the window blocks of the cost matrix are computed.
    window : int
        Window of "batch_optimal" (default 128). ``window >= S`` is exact.
    topk : int, optional
        K of "topk_greedy" (default: ``window``). ``topk >= S`` is exact.
    layout : {"NCHW", "NTD", "NSC"}
    return_perm : bool or sequence of (i, j)
        True: also return all permutations, int32 of shape (N, M, S), ``perm[i, j, s]`` = position
        of y_j matched to position s of x_i. A sequence of pairs: their permutations only, (P, S).
    return_bound : bool
        Also return an (N, M) float64 upper bound on each obj(i, j): the dual bound for the exact
        matchers (equal to obj up to float32 rounding of the block), otherwise the tighter of the
        row/column maxima of the block ("greedy") and the norm bound sum_r |x_i|_(r) |y_j|_(r) over
        position norms sorted in decreasing order. ``obj <= optimum <= bound``.
    sigma : float, optional
        RBF bandwidth; default sqrt of the median non-zero squared distance over distinct pairs.
        (The authors' code adds 1e-3 to sigma; see :mod:`semrsm.kernels`.)
    threads : int, optional
        Threads (parallel over pairs); default all cores. Results do not depend on it.
    max_memory : int, optional
        Bytes of working memory (cost blocks of the threads, chunk outputs, permutations); default
        a quarter of the available RAM. Fewer threads are used, or a ValueError says what does not
        fit, rather than exceeding it.
    progress : bool, optional
        True: always show a tqdm bar; False: never; None (default): show it once the work has run
        for more than two seconds.

    Returns
    -------
    rsm : ndarray of float64, shape (N, M), or dict of them (one per kernel when ``kernel`` is a list)
    perm : ndarray of int32, only with ``return_perm``
    bound : ndarray of float64, shape (N, M), only with ``return_bound``
        Returned as a tuple (rsm, [perm], [bound]) when either is asked for.

    Raises
    ------
    ValueError, TypeError
        On bad shapes, mismatched S or C, NaN/Inf, empty input, unknown kernel/matcher/layout.
    KeyboardInterrupt
        On Ctrl-C, within about a second; no engine thread keeps computing.
    """
    names, single = check_kernels(kernel)
    if not isinstance(matcher, str) or matcher not in MATCHERS:
        raise ValueError(f"unknown matcher {matcher!r}; expected one of {', '.join(map(repr, MATCHERS))}")
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(map(repr, LAYOUTS))}")
    window = _check_int(window, "window")
    topk = window if topk is None else _check_int(topk, "topk", minimum=0)
    sigma = check_sigma(sigma)
    threads = _core.cpu_count() if threads is None else _check_int(threads, "threads")
    budget = _available_memory() // 4 if max_memory is None else _check_int(max_memory, "max_memory")
    if progress not in (None, True, False):
        raise ValueError(f"progress must be True, False or None; got {progress!r}")

    xs = _positions(x, "x", layout)
    symmetric = y is None
    ys = xs if symmetric else _positions(y, "y", layout)
    if ys.shape[1:] != xs.shape[1:]:
        raise ValueError(f"x and y must have the same positions S and channels C; got (S, C) = "
                         f"{xs.shape[1:]} for x and {ys.shape[1:]} for y")
    if xs.dtype != ys.dtype:
        xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    n, S, C = xs.shape
    m = ys.shape[0]

    sq_x = _row_sq_norms(xs)
    sq_y = sq_x if symmetric else _row_sq_norms(ys)
    order_x = np.argsort(-sq_x, axis=1, kind="stable").astype(np.int32)
    order_y = order_x if symmetric else np.argsort(-sq_y, axis=1, kind="stable").astype(np.int32)
    sorted_x = np.sqrt(np.take_along_axis(sq_x, order_x, axis=1))
    sorted_y = sorted_x if symmetric else np.sqrt(np.take_along_axis(sq_y, order_y, axis=1))
    frob_x, frob_y = sq_x.sum(axis=1), sq_y.sum(axis=1)
    # No partial sum of an inner product exceeds the product of the two largest position norms: where
    # that could overflow float32, the cost blocks are computed in float64; past float64, refuse.
    largest = float(sorted_x[:, 0].max()) * float(sorted_y[:, 0].max())
    finite = np.isfinite(frob_x).all() and np.isfinite(frob_y).all()
    if not (finite and S * largest < float(np.finfo(np.float64).max) / 4):
        raise ValueError(f"the samples are too large for float64 inner products (largest position norm "
                         f"{max(sorted_x[:, 0].max(), sorted_y[:, 0].max()):.3g}); rescale them")
    if xs.dtype == np.float32 and largest >= float(np.finfo(np.float32).max) / 4:
        xs = xs.astype(np.float64)
        ys = xs if symmetric else ys.astype(np.float64)

    requested = None
    if return_perm is not True and return_perm is not False:
        requested = _requested_pairs(return_perm, n, m)
    want_all_perm = return_perm is True

    # Memory: what each thread holds while solving a pair, and what each pair of a chunk returns.
    item = xs.itemsize
    if matcher == "batch_optimal":
        side = min(window, S)
    elif matcher == "topk_greedy":
        side = max(min(topk, S), S - min(topk, S))
    else:
        side = S
    per_thread = item * (side * side + 2 * side * C + S * C + 16) + 64 * S
    per_pair = 8 * 2 + 1 + 16 + (4 * S if want_all_perm else 0)
    fixed = 8 * n * m * (1 + bool(return_bound) + len(names)) + (4 * n * m * S if want_all_perm else 0)
    if fixed + per_thread + per_pair > budget:
        what = " and all permutations (pass a list of pairs to return_perm)" if want_all_perm else ""
        raise ValueError(f"max_memory={budget} bytes is too small for {n} x {m} results{what} and one "
                         f"{side} x {side} cost block; need at least {fixed + per_thread + per_pair}")
    threads = max(1, min(threads, (budget - fixed - per_pair) // per_thread))

    objective = np.empty((n, m), dtype=np.float64)
    bound = np.empty((n, m), dtype=np.float64) if return_bound else None
    perm = np.empty((n, m, S), dtype=np.int32) if want_all_perm else None
    if symmetric:
        np.fill_diagonal(objective, frob_x)
        if bound is not None:
            np.fill_diagonal(bound, frob_x)
        if perm is not None:
            perm[np.arange(n), np.arange(n)] = np.arange(S, dtype=np.int32)

    pairs = _Pairs(n, m, symmetric)
    # Chunks of about a quarter of a second of work (at ~1e10 multiply-adds per second and thread),
    # so that the progress bar moves and Python overhead stays small; at least a few pairs per thread.
    work = S * min(window, S) * (C + 50) if matcher == "batch_optimal" else S * S * (C + 50)
    chunk = max(4 * threads, int(0.25 * threads * 1e10 / work))
    chunk = max(1, min((budget - fixed - threads * per_thread) // per_pair, chunk))
    _run_chunks(pairs, chunk, progress, xs, ys, order_x, order_y, sorted_x, sorted_y, matcher, window,
                topk, want_all_perm, threads, objective, bound, perm)

    rsms = kernels_from_objective(objective, frob_x, frob_y, names, symmetric=symmetric, sigma=sigma)
    result = rsms[names[0]] if single else rsms
    if not (return_perm is not False or return_bound):
        return result
    out = [result]
    if want_all_perm:
        out.append(perm)
    elif requested is not None:
        out.append(_perms_of(requested, xs, ys, order_x, order_y, sorted_x, sorted_y, matcher, window,
                             topk, threads, symmetric))
    if return_bound:
        out.append(bound)
    return tuple(out)


def _requested_pairs(pairs, n: int, m: int) -> np.ndarray:
    try:
        arr = np.asarray(pairs)
    except Exception:
        arr = None
    if arr is not None and arr.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if arr is None or arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu":
        raise ValueError("return_perm must be True, False or a sequence of (i, j) integer pairs")
    if ((arr[:, 0] < 0) | (arr[:, 0] >= n) | (arr[:, 1] < 0) | (arr[:, 1] >= m)).any():
        raise ValueError(f"return_perm holds a pair outside the {n} x {m} RSM")
    return arr.astype(np.int64)


def _engine(xs, ys, pi, pj, order_x, order_y, sorted_x, sorted_y, matcher, window, topk, want_perm,
            threads, want_bound=False):
    objective, bound, perm, status = _core.semantic_pairs(
        xs, ys, pi, pj, order_x, order_y, sorted_x, sorted_y, matcher, window, topk, want_perm, want_bound,
        threads)
    if (status == 2).any():  # cancelled: Ctrl-C reached the engine between its polls
        raise KeyboardInterrupt
    if (status != 0).any():
        raise RuntimeError(f"the engine left pair {int(np.flatnonzero(status)[0])} unsolved "
                           f"(status {int(status[status != 0][0])})")
    return objective, bound, perm


def _run_chunks(pairs, chunk, progress, xs, ys, order_x, order_y, sorted_x, sorted_y, matcher, window,
                topk, want_perm, threads, objective, bound, perm):
    import contextlib

    if progress is False or pairs.count == 0:
        bar = contextlib.nullcontext(None)  # not even tqdm's monitor thread
    else:
        from tqdm.auto import tqdm

        bar = tqdm(total=pairs.count, unit="pair", desc=f"semantic RSM ({matcher})", delay=0 if progress else 2.0)
    with bar as bar:
        for lo in range(0, pairs.count, chunk):
            hi = min(pairs.count, lo + chunk)
            pi, pj = pairs.slice(lo, hi)
            obj, upper, p = _engine(xs, ys, pi, pj, order_x, order_y, sorted_x, sorted_y, matcher,
                                    window, topk, want_perm, threads, want_bound=bound is not None)
            objective[pi, pj] = obj
            if pairs.symmetric:
                objective[pj, pi] = obj
            if bound is not None:
                bound[pi, pj] = upper
                if pairs.symmetric:
                    bound[pj, pi] = upper
            if perm is not None:
                perm[pi, pj] = p
                if pairs.symmetric:
                    perm[pj, pi] = _inverse(p)
            if bar is not None:
                bar.update(hi - lo)


def _perms_of(requested, xs, ys, order_x, order_y, sorted_x, sorted_y, matcher, window, topk, threads,
              symmetric):
    """Permutations of the requested pairs, solved again (the engine is deterministic, so they are
    the ones behind the RSM); symmetric pairs are solved as (min, max) like the RSM itself."""
    S = xs.shape[1]
    out = np.empty((len(requested), S), dtype=np.int32)
    if len(requested) == 0:
        return out
    pi, pj = requested[:, 0].copy(), requested[:, 1].copy()
    flip = np.zeros(len(requested), dtype=bool)
    if symmetric:
        flip = pi > pj
        pi, pj = np.minimum(pi, pj), np.maximum(pi, pj)
    same = symmetric & (pi == pj)
    out[same] = np.arange(S, dtype=np.int32)
    solve = ~same
    if solve.any():
        _, _, p = _engine(xs, ys, pi[solve], pj[solve], order_x, order_y, sorted_x, sorted_y, matcher,
                          window, topk, True, threads)
        p = np.where(flip[solve][:, None], _inverse(p), p)
        out[solve] = p
    return out
