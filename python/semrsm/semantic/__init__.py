"""Semantic RSMs (Wald et al., NeurIPS 2024): each pair of samples is aligned by the permutation of
positions that maximises their inner product before the kernel is applied.

The engine returns one number per pair, obj(i, j) = max_P sum_s <x_i[s], y_j[P(s)]>, in float64; the
kernels follow from it and the norms (:mod:`semrsm.kernels`), so one solve serves every kernel.

A call travels: :func:`semantic_rsm` checks the options (``_plan.Options``), asks the backend where
to run, validates the samples and computes what every matcher reads of them (``_plan.Samples``); the
engine (``_cpu.CpuEngine``: the C++ engine; ``_arrays.ArrayOps``: array steps on CuPy, built by
``_cuda.gpu_ops``) sizes the chunks from the one memory model of ``_plan`` and solves them in the
chunk loop of ``_run``; the kernels are derived from the objectives at the end.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from .._backend import resolve
from .._checks import as_pairs
from ..kernels import unscale
from . import _cpu, _cuda
from ._audit import DEFAULT_THRESHOLD, AuditReport, MatchingQualityWarning, matching_quality, sample_pairs
from ._plan import LAYOUTS, MATCHER_ALIASES, MATCHERS, NEAR_EXACT_GAP, PARTIAL_WINDOWS, Options, Samples
from ._grid import Grid, solve_grid
from ._run import ListedPairs, perms_of, run_chunks

__all__ = ["LAYOUTS", "MATCHER_ALIASES", "MATCHERS", "NEAR_EXACT_GAP", "PARTIAL_WINDOWS", "AuditReport",
           "MatchingQualityWarning", "matching_quality", "pair_objectives", "sample_pairs", "semantic_rsm"]


def semantic_rsm(x, y=None, *, kernel: Union[str, Sequence[str]] = "cosine", matcher: str = "exact",
                 window: int = 128, partial_window: str = "largest", topk: Optional[int] = None,
                 layout: Optional[str] = None,
                 return_perm=False, return_bound: bool = False, sigma: Union[float, str, None] = None,
                 threads: Optional[int] = None, max_memory: Optional[int] = None, progress=None,
                 device: Optional[str] = None, audit: Union[None, int, float] = None,
                 audit_threshold: float = DEFAULT_THRESHOLD, audit_seed: int = 0):
    """Semantic RSM of Wald et al. (2024): kernels between samples aligned by the best permutation.

    For samples x_i and y_j, each a set of S vectors in R^C (positions of a feature map, tokens),
    obj(i, j) = max over permutations P of sum_s <x_i[s], y_j[P(s)]>, a maximisation LAP on the
    S x S block X_i Y_j^T, and the kernel is applied to the aligned pair (:mod:`semrsm.kernels`).

    Parameters
    ----------
    x : array_like
        Samples: (N, C, H, W) for layout "NCHW" (S = H*W positions of C channels), (N, T, D) for
        "NTD" (S = T tokens, C = D) or (N, S, C) for "NSC"; a 2-D (N, D) array (a fully connected
        layer) has one position, where the semantic RSM is the spatio-semantic one. float32 is solved in float32 (the cost
        blocks; objectives are always recomputed in float64), other types in float64.
    y : array_like, optional
        Samples to compare against, same layout, S and C; default x, the symmetric N x N case, where
        only pairs i < j are solved (the diagonal is exact: obj(i, i) = ||x_i||^2).
    kernel : {"inner", "cosine", "rbf"} or list of them
        A list returns a dict of RSMs keyed by kernel, all from one solve per pair.
    matcher : {"exact", "near_exact", "auction", "greedy", "topk_greedy", "batch_optimal"}
        "exact" (also called "jv"): the optimum. The engine solves it with its fastest exact solver
        on these costs, an epsilon-scaling auction finished by Jonker-Volgenant shortest augmenting
        paths ("hybrid" in :func:`semrsm.solve`), which returns the same optimum as JV.
        "near_exact": the epsilon-scaling auction stopped after the first phase whose dual bound
        certifies the pair within ``NEAR_EXACT_GAP`` (1e-3) times |objective| of the optimum: at
        least 0.999 of the optimum wherever the objective is positive (as on ReLU features), and
        ``return_bound`` gives that certificate (1.4-2.1x exact's
        pairs per second at S = 196..3136; bench/RESULTS.md). On the GPU these pairs are solved
        exactly, which keeps the promise. "auction":
        epsilon-scaling auction alone, within 1e-9 of the block's cost range of the optimum, on both
        engines. "greedy": the greedy rule of the paper on the full block, as the paper states it
        (the authors' code ranks along the other axis of the score matrix; cpp/lap/greedy.h).
        "topk_greedy": the ``topk`` positions of largest norm of each sample matched to each other
        exactly, the others greedily. "batch_optimal": positions of each
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
    layout : {None, "NCHW", "NTD", "NSC"}
        None (default): from the shape of ``x``: 4-D is NCHW, 3-D (N, S, C), 2-D (N, D) one position.
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
        Bytes of memory the call may add (CPU: the copies and norm data of the samples, the N x M
        outputs, the cost blocks of the threads, chunk outputs, permutations, and the kernels with
        their temporaries and the RBF median's copy of the distances; default a quarter of the
        available RAM. Fewer threads or smaller chunks are used, or a ValueError says what does not
        fit, rather than exceeding it: tests/test_semantic_memory.py holds the peak resident memory
        to it. GPU: what a chunk of pairs may take on the device, default half of its free memory;
        a chunk that runs out of memory anyway is halved and tried again).
    progress : bool, optional
        True: always show a tqdm bar; False: never; None (default): show it once the work has run
        for more than two seconds.
    device : {None, "cpu", "cuda"}
        None (default): follow the input, the GPU for CuPy arrays, the CPU for the rest. "cuda" on
        NumPy input copies the samples to the GPU and the results back. On the GPU the pairs are
        solved in chunks on CuPy's current stream: cost blocks by the pair kernel (float32) or
        cuBLAS (float64), exact matching and the auction by the GPU's LAP solver (blocks and
        windows up to 8192 positions), the greedy rule as array steps; objectives are summed from the float32 blocks in float64 there (the CPU
        engine recomputes them from the vectors), so the two agree to float32 rounding of the
        blocks.
    audit : int or float, optional
        Also solve a random sample of the pairs exactly, on the same engine, and report the quality
        of the matcher on them (objective / optimum, :func:`matching_quality`): an integer is a number
        of pairs, a float in (0, 1] a fraction of the pairs solved (i < j when symmetric). Costs
        about as much as that many exact pairs (on the GPU: S up to 8192, the exact solver's limit
        there, checked before the run); None (default): no audit, no extra work.
    audit_threshold : float
        With ``audit``: warn (:class:`MatchingQualityWarning`) when the median or the worst quality
        on the sample is below this (default 0.95).
    audit_seed : int
        Seed of the audit's sample (default 0: the same pairs on every call of the same shape).

    Returns
    -------
    rsm : ndarray of float64, shape (N, M), or dict of them (one per kernel when ``kernel`` is a list);
        CuPy arrays for CuPy input
    perm : ndarray of int32, only with ``return_perm``
    bound : ndarray of float64, shape (N, M), only with ``return_bound``
    audit : AuditReport, only with ``audit``
        The sampled pairs, their objectives and optima, the quality's median, 5th percentile and
        worst, and the time of the exact solves.
        Returned as a tuple (rsm, [perm], [bound], [audit]) when any of them is asked for.

    Notes
    -----
    Samples of any finite magnitude are taken: one whose largest entry lies outside [2^-40, 2^40)
    is multiplied by a power of two (exact) before its cost blocks are built, so that they neither
    underflow nor overflow, even in float32; objectives, bounds and norms are scaled back exactly.
    The optimal permutations do not depend on it, nor does the cosine, which is computed from the
    scaled values (so tiny samples get their cosine even where their inner products underflow
    float64). Inner products (the "inner" kernel, the bound) beyond float64 raise a ValueError.
    A squared distance within the rounding of its computation is 0 (:mod:`semrsm.kernels`), so
    identical samples have RBF 1. An all-zero sample has cosine 0 with every sample, itself
    included, and a :class:`semrsm.UnreliableResultWarning` says so.

    Raises
    ------
    ValueError, TypeError
        On bad shapes, mismatched S or C, NaN/Inf, empty input, unknown kernel/matcher/layout; an
        inner product beyond float64 with the inner kernel or ``return_bound``; a ``max_memory``
        too small for the outputs and one pair.
    RuntimeError
        ``device="cuda"`` (or CuPy input) where the CUDA engine cannot run; the message says why.
    MemoryError
        On the GPU, when not even one pair fits in the free device memory.
    KeyboardInterrupt
        On Ctrl-C, within about a second; no engine thread keeps computing.
    """
    options = Options.check(kernel=kernel, matcher=matcher, window=window, partial_window=partial_window,
                            topk=topk, layout=layout,
                            return_perm=return_perm, return_bound=return_bound, sigma=sigma, threads=threads,
                            max_memory=max_memory, progress=progress, audit=audit,
                            audit_threshold=audit_threshold, audit_seed=audit_seed)
    backend = resolve(x, y, device=device)
    with backend.on_device():
        engine = _cuda.gpu_ops(backend.xp, backend.device_id) if backend.gpu else _cpu.CpuEngine()
        return backend.output(compute(x, y, options, engine))


def compute(x, y, options: Options, engine):
    """:func:`semantic_rsm` with checked options on ``engine`` (a ``CpuEngine``, or ``ArrayOps`` of
    NumPy or CuPy): the result as the caller gets it, but with the engine's arrays."""
    xp = engine.xp
    samples = Samples.prepare(x, y, options.layout, xp)
    n, m, S, _ = samples.shape
    requested = options.requested_pairs(n, m)
    solve, chunk = engine.prepare(samples, options)
    audit = options.audit.prepare(samples, options, engine) if options.audit is not None else None
    grid = solve_grid(samples, options, engine, solve, chunk)
    report = None if audit is None else audit.report(grid.objective, (samples.exp_x, samples.exp_y))
    rsms = grid.kernels(options.kernels, options.sigma, overwrite=True)
    bound = grid.unscaled_bound()
    out = [rsms[options.kernels[0]] if options.single_kernel else rsms]
    if grid.perm is not None:
        out.append(grid.perm)
    elif requested is not None:
        out.append(perms_of(requested, solve, S, samples.symmetric, xp))
    if bound is not None:
        out.append(bound)
    if report is not None:
        out.append(report)
    return out[0] if len(out) == 1 else tuple(out)


def pair_objectives(x, pairs, y=None, *, matcher: str = "exact", window: int = 128, partial_window: str = "largest",
                    topk: Optional[int] = None, layout: Optional[str] = None, threads: Optional[int] = None,
                    max_memory: Optional[int] = None, progress=None, device: Optional[str] = None):
    """The objectives obj(i, j) of the listed pairs only, by the engine and matcher of
    :func:`semantic_rsm`, without the N x M matrices.

    Parameters
    ----------
    x : array_like
        Samples, as for :func:`semantic_rsm`.
    pairs : array_like of int, shape (P, 2)
        Pairs (i, j): x_i against y_j (x_j when ``y`` is None), solved in this order.
    y : array_like, optional
        Samples to compare against (default x).
    matcher, window, partial_window, topk, layout, threads, max_memory, progress, device
        As for :func:`semantic_rsm`.

    Returns
    -------
    ndarray of float64, shape (P,)
        max_P sum_s <x_i[s], y_j[P(s)]> for the exact matchers, the matcher's objective otherwise (a
        CuPy array for CuPy input). The same numbers as ``semantic_rsm(x, y, kernel="inner")[i, j]``:
        without ``y``, (j, i) is solved as (i, j) and obj(i, i) = ||x_i||^2, as there.
    """
    options = Options.check(kernel="inner", matcher=matcher, window=window, partial_window=partial_window, topk=topk,
                            layout=layout, return_perm=False, return_bound=False, sigma=None, threads=threads,
                            max_memory=max_memory, progress=progress)
    backend = resolve(x, y, device=device)
    with backend.on_device():
        engine = _cuda.gpu_ops(backend.xp, backend.device_id) if backend.gpu else _cpu.CpuEngine()
        samples = Samples.prepare(x, y, options.layout, engine.xp)
        n, m = samples.shape[:2]
        listed = as_pairs(pairs, n, m, "pairs")
        xp = engine.xp
        objective = xp.empty(len(listed), dtype=xp.float64)
        i, j = listed[:, 0], listed[:, 1]
        todo = np.arange(len(listed))
        if samples.symmetric:  # as the RSM: (j, i) solved as (i, j), and the diagonal exact
            i, j = np.minimum(i, j), np.maximum(i, j)
            same = i == j
            objective[xp.asarray(todo[same])] = samples.frob_x[xp.asarray(i[same])]
            todo, i, j = todo[~same], i[~same], j[~same]
        solve, chunk = engine.prepare(samples, options, results=8 * len(listed))
        solved = xp.empty(len(todo), dtype=xp.float64)
        run_chunks(ListedPairs(i, j), chunk, options.progress, solve, options.matcher, solved, None, None, engine)
        objective[xp.asarray(todo)] = solved
        # at the samples' own scale (Samples may hold them rescaled by powers of two)
        rows, cols = xp.asarray(listed[:, 0]), xp.asarray(listed[:, 1])
        unscale(objective[None, :], (xp.zeros(1, dtype=xp.int32), samples.exp_x[rows] + samples.exp_y[cols]),
                "an objective")
        return backend.output(objective)
