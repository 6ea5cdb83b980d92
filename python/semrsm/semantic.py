"""Semantic RSMs (Wald et al., NeurIPS 2024): each pair of samples is aligned by the permutation of
positions that maximises their inner product before the kernel is applied.

The engine returns one number per pair, obj(i, j) = max_P sum_s <x_i[s], y_j[P(s)]>, in float64; the
kernels follow from it and the norms (:mod:`semrsm.kernels`), so one solve serves every kernel.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import numpy as np

from . import _core, _cuda
from ._semantic_arrays import bytes_per_pair, numpy_ops, segments, solve_pairs, stable_argsort
from ._validation import array_module, as_finite_samples, is_cupy_array, to_numpy
from .kernels import check_kernels, check_sigma, kernels_from_objective

__all__ = ["MATCHERS", "LAYOUTS", "PARTIAL_WINDOWS", "semantic_rsm"]

#: Matchers of :func:`semantic_rsm`. "jv" and "auction" are exact (auction: to within its tiny
#: epsilon); "greedy", "topk_greedy" and "batch_optimal" are the approximations of the paper.
MATCHERS = ("jv", "auction", "greedy", "topk_greedy", "batch_optimal")
#: Input layouts: (N, C, H, W) feature maps, (N, T, D) tokens, (N, S, C) position sets.
LAYOUTS = ("NCHW", "NTD", "NSC")
#: Where Batch-Optimal puts its short window (S mod window ranks): at the largest norms (the
#: default, as the authors' code) or at the smallest.
PARTIAL_WINDOWS = ("largest", "smallest")


def _positions(arr, name: str, layout: str, xp):
    """Validate one input and return it as (N, S, C), C-contiguous float32/float64, of module ``xp``."""
    arr = as_finite_samples(arr, name, ndims=(4,) if layout == "NCHW" else (3,), xp=xp)
    if 0 in arr.shape[1:]:
        raise ValueError(f"{name} has no positions or no channels (shape {arr.shape}, layout {layout})")
    if layout == "NCHW":
        n, c, h, w = arr.shape
        arr = xp.ascontiguousarray(arr.reshape(n, c, h * w).transpose(0, 2, 1))
    return arr


def _row_sq_norms(x, xp):
    """Squared norm of every position, (N, S) float64, without a float64 copy of all of x."""
    out = xp.empty(x.shape[:2], dtype=xp.float64)
    step = max(1, int(2**24 // max(1, x.shape[1] * x.shape[2])))
    for start in range(0, x.shape[0], step):
        block = x[start:start + step].astype(xp.float64)
        out[start:start + step] = xp.einsum("nsc,nsc->ns", block, block)
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
        self._device_start = None  # start on the GPU, copied there once

    def slice(self, lo: int, hi: int, xp=np):
        """Pairs lo..hi as index arrays (i, j) of module ``xp``, computed there."""
        if xp is np:
            start = self.start
        else:
            if self._device_start is None:
                self._device_start = xp.asarray(self.start)
            start = self._device_start
        k = xp.arange(lo, hi, dtype=xp.int64)
        i = xp.searchsorted(start, k, side="right") - 1
        j = k - start[i] + (i + 1 if self.symmetric else 0)
        return i.astype(xp.int64), j.astype(xp.int64)


def _inverse(perm):
    xp = array_module(perm)
    inv = xp.empty_like(perm)
    inv[xp.arange(perm.shape[0])[:, None], perm] = xp.arange(perm.shape[-1], dtype=perm.dtype)[None, :]
    return inv


def semantic_rsm(x, y=None, *, kernel: Union[str, Sequence[str]] = "cosine", matcher: str = "jv",
                 window: int = 128, partial_window: str = "largest", topk: Optional[int] = None,
                 layout: str = "NCHW",
                 return_perm=False, return_bound: bool = False, sigma: Union[float, str, None] = None,
                 threads: Optional[int] = None, max_memory: Optional[int] = None, progress=None,
                 device: Optional[str] = None):
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
    partial_window : {"largest", "smallest"}
        "batch_optimal" when ``window`` does not divide S: which end of the norm ranking gets the
        short window of S mod ``window`` ranks. "largest" (default): the top, as in the authors'
        code (it ranks by increasing norm and cuts windows from the low end), so their RSMs are
        reproduced; on ReLU conv features it also matches better on average, most when the
        window exceeds S / 2 (S = 196, k = 128: objective 0.9971 of the optimum against 0.9921),
        though a very short window at the top can lower the worst pair. "smallest": windows cut
        from the largest norms down, the short one at the end (bench/RESULTS.md, "Batch-Optimal:
        where the short window goes").
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
    sigma : float or {"median", "authors"}, optional
        RBF bandwidth, or the rule that picks it (:mod:`semrsm.kernels`). "median" (default, also
        None): sqrt of the median non-zero squared distance over distinct pairs. "authors": the
        rule of Wald et al.'s code, sqrt of the lower median of those distances plus 1e-3, which
        reproduces their RBF RSMs.
    threads : int, optional
        CPU threads (parallel over pairs); default all cores. Results do not depend on it.
    max_memory : int, optional
        Bytes of working memory (CPU: cost blocks of the threads, chunk outputs, permutations;
        default a quarter of the available RAM, and fewer threads are used, or a ValueError says
        what does not fit, rather than exceeding it. GPU: what a chunk of pairs may take on the
        device, default half of its free memory; a chunk that runs out of memory anyway is halved
        and tried again).
    progress : bool, optional
        True: always show a tqdm bar; False: never; None (default): show it once the work has run
        for more than two seconds.
    device : {None, "cpu", "cuda"}
        None (default): follow the input, the GPU for CuPy arrays, the CPU for the rest. "cuda" on
        NumPy input copies the samples to the GPU and the results back. On the GPU the pairs are
        solved in chunks on CuPy's current stream: cost blocks by the pair kernel (float32) or
        cuBLAS (float64), exact matching by the GPU's shortest augmenting path solver ("auction"
        is solved exactly there; blocks and windows up to 8192 positions), the greedy rule as
        array steps; objectives are summed from the float32 blocks in float64 there (the CPU
        engine recomputes them from the vectors), so the two agree to float32 rounding of the
        blocks.

    Returns
    -------
    rsm : ndarray of float64, shape (N, M), or dict of them (one per kernel when ``kernel`` is a list);
        CuPy arrays for CuPy input
    perm : ndarray of int32, only with ``return_perm``
    bound : ndarray of float64, shape (N, M), only with ``return_bound``
        Returned as a tuple (rsm, [perm], [bound]) when either is asked for.

    Raises
    ------
    ValueError, TypeError
        On bad shapes, mismatched S or C, NaN/Inf, empty input, unknown kernel/matcher/layout.
    RuntimeError
        ``device="cuda"`` (or CuPy input) where the CUDA engine cannot run; the message says why.
    MemoryError
        On the GPU, when not even one pair fits in the free device memory.
    KeyboardInterrupt
        On Ctrl-C, within about a second; no engine thread keeps computing.
    """
    on_gpu = _cuda.wants_cuda(x, device) or (device is None and is_cupy_array(y))
    options = dict(kernel=kernel, matcher=matcher, window=window, partial_window=partial_window, topk=topk,
                   layout=layout,
                   return_perm=return_perm, return_bound=return_bound, sigma=sigma, threads=threads,
                   max_memory=max_memory, progress=progress)
    if not on_gpu:
        return _semantic_rsm(x, y, ops=None, **options)
    cp = _cuda.cupy_module()
    with cp.cuda.Device(_cuda.input_device(x, y)) as gpu:
        return _semantic_rsm(x, y, ops=_cuda.semantic_ops(cp, gpu.id), **options)


def _semantic_rsm(x, y, *, kernel, matcher, window, partial_window, topk, layout, return_perm, return_bound,
                  sigma, threads, max_memory, progress, ops):
    """:func:`semantic_rsm` on the C++ engine (``ops`` None) or on the array steps of ``ops``
    (python/semrsm/_semantic_arrays.py: CuPy on the GPU, NumPy in the tests)."""
    names, single = check_kernels(kernel)
    if not isinstance(matcher, str) or matcher not in MATCHERS:
        raise ValueError(f"unknown matcher {matcher!r}; expected one of {', '.join(map(repr, MATCHERS))}")
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(map(repr, LAYOUTS))}")
    window = _check_int(window, "window")
    if not isinstance(partial_window, str) or partial_window not in PARTIAL_WINDOWS:
        raise ValueError(f"unknown partial_window {partial_window!r}; expected one of "
                         f"{', '.join(map(repr, PARTIAL_WINDOWS))}")
    partial_largest = partial_window == "largest"
    topk = window if topk is None else _check_int(topk, "topk", minimum=0)
    sigma = check_sigma(sigma)
    threads = _core.cpu_count() if threads is None else _check_int(threads, "threads")
    budget = None if max_memory is None else _check_int(max_memory, "max_memory")
    if progress not in (None, True, False):
        raise ValueError(f"progress must be True, False or None; got {progress!r}")

    xp = np if ops is None else ops.xp
    to_host = xp is not np and not (is_cupy_array(x) or is_cupy_array(y))
    xs = _positions(x, "x", layout, xp)
    symmetric = y is None
    ys = xs if symmetric else _positions(y, "y", layout, xp)
    if ys.shape[1:] != xs.shape[1:]:
        raise ValueError(f"x and y must have the same positions S and channels C; got (S, C) = "
                         f"{xs.shape[1:]} for x and {ys.shape[1:]} for y")
    if xs.dtype != ys.dtype:
        xs, ys = xs.astype(xp.float64), ys.astype(xp.float64)
    n, S, C = xs.shape
    m = ys.shape[0]

    sq_x = _row_sq_norms(xs, xp)
    sq_y = sq_x if symmetric else _row_sq_norms(ys, xp)
    order_x = stable_argsort(-sq_x, xp).astype(xp.int32)
    order_y = order_x if symmetric else stable_argsort(-sq_y, xp).astype(xp.int32)
    sorted_x = xp.sqrt(xp.take_along_axis(sq_x, order_x, axis=1))
    sorted_y = sorted_x if symmetric else xp.sqrt(xp.take_along_axis(sq_y, order_y, axis=1))
    frob_x, frob_y = sq_x.sum(axis=1), sq_y.sum(axis=1)
    # No partial sum of an inner product exceeds the product of the two largest position norms: where
    # that could overflow float32, the cost blocks are computed in float64; past float64, refuse.
    top_x, top_y = float(sorted_x[:, 0].max()), float(sorted_y[:, 0].max())
    largest = top_x * top_y
    finite = bool(xp.isfinite(frob_x).all()) and bool(xp.isfinite(frob_y).all())
    if not (finite and S * largest < float(np.finfo(np.float64).max) / 4):
        raise ValueError(f"the samples are too large for float64 inner products (largest position norm "
                         f"{max(top_x, top_y):.3g}); rescale them")
    if xs.dtype == np.float32 and largest >= float(np.finfo(np.float32).max) / 4:
        xs = xs.astype(xp.float64)
        ys = xs if symmetric else ys.astype(xp.float64)

    requested = None
    if return_perm is not True and return_perm is not False:
        requested = _requested_pairs(return_perm, n, m)
    want_all_perm = return_perm is True

    if ops is None:
        threads, chunk = _cpu_plan(xs, n, m, matcher, window, topk, len(names), return_bound, want_all_perm,
                                   threads, budget)
        solve = _cpu_solver(xs, ys, order_x, order_y, sorted_x, sorted_y, matcher, window, partial_largest,
                            topk, threads)
    else:
        solve = _array_solver(xs, ys, symmetric, order_x, order_y, sorted_x, sorted_y, matcher, window,
                              partial_largest, topk, ops)

    objective = xp.empty((n, m), dtype=xp.float64)
    bound = xp.empty((n, m), dtype=xp.float64) if return_bound else None
    perm = xp.empty((n, m, S), dtype=xp.int32) if want_all_perm else None
    if symmetric:
        diagonal = xp.arange(n)
        objective[diagonal, diagonal] = frob_x
        if bound is not None:
            bound[diagonal, diagonal] = frob_x
        if perm is not None:
            perm[diagonal, diagonal] = xp.arange(S, dtype=xp.int32)

    pairs = _Pairs(n, m, symmetric)
    if ops is not None:
        per_pair = bytes_per_pair(S, C, xs.itemsize, matcher, window, topk, ops.gathers(xs.dtype),
                                  want_all_perm)
        available = ops.free_bytes() // 2 if budget is None else budget
        if budget is not None and budget < per_pair:
            raise ValueError(f"max_memory={budget} bytes is too small for one pair of S = {S}, C = {C} with "
                             f"matcher {matcher!r}; need at least {per_pair}")
        chunk = max(1, min(pairs.count, available // per_pair))
    _run_chunks(pairs, chunk, progress, solve, matcher, objective, bound, perm, ops)

    rsms = kernels_from_objective(objective, frob_x, frob_y, names, symmetric=symmetric, sigma=sigma)
    result = rsms[names[0]] if single else rsms
    out = [result]
    if want_all_perm:
        out.append(perm)
    elif requested is not None:
        out.append(_perms_of(requested, solve, S, symmetric, xp))
    if return_bound:
        out.append(bound)
    if to_host:
        out = [{k: to_numpy(v) for k, v in item.items()} if isinstance(item, dict) else to_numpy(item)
               for item in out]
    if not (return_perm is not False or return_bound):
        return out[0]
    return tuple(out)


def _cpu_plan(xs, n: int, m: int, matcher: str, window: int, topk: int, kernels: int, return_bound: bool,
              want_all_perm: bool, threads: int, budget: Optional[int]):
    """Threads and pairs per chunk for the C++ engine within the memory budget."""
    budget = _available_memory() // 4 if budget is None else budget
    S, C = xs.shape[1:]
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
    fixed = 8 * n * m * (1 + bool(return_bound) + kernels) + (4 * n * m * S if want_all_perm else 0)
    if fixed + per_thread + per_pair > budget:
        what = " and all permutations (pass a list of pairs to return_perm)" if want_all_perm else ""
        raise ValueError(f"max_memory={budget} bytes is too small for {n} x {m} results{what} and one "
                         f"{side} x {side} cost block; need at least {fixed + per_thread + per_pair}")
    threads = max(1, min(threads, (budget - fixed - per_pair) // per_thread))
    # Chunks of about a quarter of a second of work (at ~1e10 multiply-adds per second and thread),
    # so that the progress bar moves and Python overhead stays small; at least a few pairs per thread.
    work = S * min(window, S) * (C + 50) if matcher == "batch_optimal" else S * S * (C + 50)
    chunk = max(4 * threads, int(0.25 * threads * 1e10 / work))
    chunk = max(1, min((budget - fixed - threads * per_thread) // per_pair, chunk))
    return threads, chunk


def _cpu_solver(xs, ys, order_x, order_y, sorted_x, sorted_y, matcher, window, partial_largest, topk, threads):
    """Pairs (pi, pj) -> (objective, bound or None, perm or None) on the C++ engine."""

    def solve(pi, pj, want_perm: bool, want_bound: bool):
        objective, bound, perm, status = _core.semantic_pairs(
            xs, ys, pi, pj, order_x, order_y, sorted_x, sorted_y, matcher, window, partial_largest, topk,
            want_perm, want_bound, threads)
        if (status == 2).any():  # cancelled: Ctrl-C reached the engine between its polls
            raise KeyboardInterrupt
        if (status != 0).any():
            raise RuntimeError(f"the engine left pair {int(np.flatnonzero(status)[0])} unsolved "
                               f"(status {int(status[status != 0][0])})")
        return objective, bound, perm

    return solve


def _array_solver(xs, ys, symmetric, order_x, order_y, sorted_x, sorted_y, matcher, window, partial_largest, topk,
                  ops):
    """Pairs (pi, pj) -> (objective, bound or None, perm or None) by the array steps of ``ops``, with
    the bound rule of the C++ engine (cpp/rsm_engine.cpp): the solver's own bound, tightened by the
    norm bound, never below the attained objective."""
    xp = ops.xp
    if symmetric:
        samples, order, norms, offset = xs, order_x, sorted_x, 0
    else:  # one array of positions, so that a pair is two indices into it
        samples = xp.concatenate((xs, ys))
        order = xp.concatenate((order_x, order_y))
        norms = xp.concatenate((sorted_x, sorted_y))
        offset = xs.shape[0]
    parts, ranked = segments(samples, order, matcher, window, topk, partial_largest, xp)

    def solve(pi, pj, want_perm: bool, want_bound: bool):
        a, b = pi, pj + offset
        objective, upper, perm = solve_pairs(parts, ranked, order, a, b, want_perm, ops)
        bound = None
        if want_bound:
            bound = (norms[a] * norms[b]).sum(axis=1)
            if upper is not None:
                bound = xp.minimum(bound, upper)
            bound = xp.maximum(bound, objective)
        return objective, bound, perm

    return solve


def _requested_pairs(pairs, n: int, m: int) -> np.ndarray:
    try:
        arr = to_numpy(pairs)
    except Exception:
        arr = None
    if arr is not None and arr.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if arr is None or arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu":
        raise ValueError("return_perm must be True, False or a sequence of (i, j) integer pairs")
    if ((arr[:, 0] < 0) | (arr[:, 0] >= n) | (arr[:, 1] < 0) | (arr[:, 1] >= m)).any():
        raise ValueError(f"return_perm holds a pair outside the {n} x {m} RSM")
    return arr.astype(np.int64)


def _run_chunks(pairs, chunk, progress, solve, matcher, objective, bound, perm, ops):
    """Solve every pair, a chunk at a time, into objective (and bound, perm). With array ops, a chunk
    that runs out of memory is halved and tried again, and the next chunk is queued before the
    progress bar waits for the last one."""
    import contextlib

    xp = np if ops is None else ops.xp
    out_of_memory = () if ops is None else ops.out_of_memory
    watch = contextlib.nullcontext if ops is None else ops.watch
    if progress is False or pairs.count == 0:
        bar = contextlib.nullcontext(None)  # not even tqdm's monitor thread
    else:
        from tqdm.auto import tqdm

        bar = tqdm(total=pairs.count, unit="pair", desc=f"semantic RSM ({matcher})", delay=0 if progress else 2.0)
    queued = []  # (token of a chunk's work, its pairs)
    with bar as bar:
        lo = 0
        while lo < pairs.count:
            hi = min(pairs.count, lo + chunk)
            try:
                with watch():
                    pi, pj = pairs.slice(lo, hi, xp)
                    obj, upper, p = solve(pi, pj, perm is not None, bound is not None)
                    # A chunk that fails while storing is simply stored again.
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
            except out_of_memory as exc:
                if chunk == 1:
                    raise MemoryError(f"not even one pair fits in the GPU's free memory (matcher "
                                      f"{matcher!r}); free device memory or take a smaller window") from exc
                chunk = max(1, chunk // 2)
                retry = True
            else:
                retry = False
            if retry:  # released outside the except clause, once the failed chunk's arrays are gone
                ops.release()
                continue
            queued.append((None if ops is None else ops.mark(), hi - lo))
            while len(queued) > (0 if ops is None else 1):
                token, done = queued.pop(0)
                if ops is not None:
                    ops.wait(token)
                if bar is not None:
                    bar.update(done)
            lo = hi
        for token, done in queued:
            ops.wait(token)
            if bar is not None:
                bar.update(done)


def _perms_of(requested, solve, S: int, symmetric: bool, xp):
    """Permutations of the requested pairs, solved again (the engines are deterministic, so they are
    the ones behind the RSM); symmetric pairs are solved as (min, max) like the RSM itself."""
    out = xp.empty((len(requested), S), dtype=xp.int32)
    if len(requested) == 0:
        return out
    pi, pj = requested[:, 0].copy(), requested[:, 1].copy()
    flip = np.zeros(len(requested), dtype=bool)
    if symmetric:
        flip = pi > pj
        pi, pj = np.minimum(pi, pj), np.maximum(pi, pj)
    same = np.flatnonzero(pi == pj) if symmetric else np.empty(0, dtype=np.int64)
    todo = np.setdiff1d(np.arange(len(requested)), same)
    out[xp.asarray(same)] = xp.arange(S, dtype=xp.int32)
    if todo.size:
        _, _, p = solve(xp.asarray(pi[todo]), xp.asarray(pj[todo]), True, False)
        out[xp.asarray(todo)] = xp.where(xp.asarray(flip[todo])[:, None], _inverse(p), p)
    return out
