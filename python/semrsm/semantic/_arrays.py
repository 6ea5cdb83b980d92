"""The matchers of the semantic RSM as whole-array steps of one array module: the GPU engine.

Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for Neural Networks", NeurIPS
2024, sec. 3.2. On the GPU every step runs on CuPy arrays in the device's memory, a chunk of pairs
at a time: the cost blocks (``cuda/cost/pair_block.cu``), the exact LAPs and the auction
(``cuda/lap/``), the greedy rule (``semrsm/lap/_arrays.py``), objectives and bounds; nothing
returns to the host inside the pair loop.
The same functions run on NumPy arrays in the tests, where they are checked against the C++ engine,
so the tie rules and index arithmetic that the GPU runs are the ones CI tests.

Batch-Optimal and TopK-Greedy work on the positions of each sample ranked by norm, made once
(``segments``): a window of k ranks of every sample is then a contiguous k x C slab, and the
window blocks of all pairs are ordinary pair blocks of the slabs, (a * windows + w, b * windows + w).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable

import numpy as np

from .._floats import sum_rounding
from ..lap import solve as solve_lap
from ..lap._arrays import greedy_assignment
from ._plan import Options, Samples, block_values

__all__ = ["ArrayOps", "Segment", "bytes_per_pair", "numpy_ops", "segments", "solve_pairs"]


@dataclasses.dataclass(frozen=True)
class ArrayOps:
    """What the matchers need from an engine, for arrays of module ``xp``.

    blocks(positions, a, b)
        ``positions[a] @ positions[b].T`` for index arrays a and b: (P, w, w) cost blocks.
    solve_max(blocks, method)
        Maximisation of a (P, w, w) batch by the LAP method "auto" (exact) or "auction" (within
        its eps, cpp/lap/auction.h): (col int32 (P, w), objective float64 (P,), upper bound
        float64 (P,)).
    gathers(dtype)
        True when ``blocks`` copies ``positions[a]`` and ``positions[b]`` of this dtype first
        (memory sizing).
    out_of_memory
        Exceptions that mean "this chunk did not fit": the chunk is halved and tried again.
    watch()
        A context manager around a chunk's work that raises one of ``out_of_memory`` on leaving
        when any allocation inside failed, even one that a library swallowed.
    release()
        Gives cached memory back after such an exception.
    free_bytes()
        Memory that a chunk may use now.
    mark(), wait(token)
        ``mark`` after a chunk's work is enqueued, ``wait`` for it to finish: the progress bar
        follows finished work while the next chunk is already queued.
    queue_depth
        Chunks left in flight while the progress bar waits for the oldest.
    """

    xp: object
    blocks: Callable
    solve_max: Callable
    gathers: Callable
    out_of_memory: tuple = ()
    watch: Callable = contextlib.nullcontext
    release: Callable = lambda: None
    free_bytes: Callable = lambda: 0
    mark: Callable = lambda: None
    wait: Callable = lambda token: None
    queue_depth: int = 1

    @staticmethod
    def objective_error(S: int, C: int, dtype) -> float:
        """The objective's rounding relative to ||x_i|| ||y_j||: block entries are sums of C products
        in the samples' dtype (float32 on the GPU's pair kernel), and the objective a float64 sum of S
        of them."""
        return sum_rounding(C, dtype) + sum_rounding(S)

    def prepare(self, samples: Samples, options: Options, results=None):
        """(solve, pairs per chunk): the chunk fills what the device has free (half of it) or
        ``max_memory``. (``results``, the bytes of the outputs, is not used: a chunk takes half of
        the free memory, which leaves the outputs theirs.)"""
        n, m, S, C = samples.shape
        per_pair = bytes_per_pair(S, C, samples.xs.itemsize, options.matcher, options.window, options.topk,
                                  self.gathers(samples.xs.dtype), options.all_perms)
        budget = options.max_memory
        if budget is not None and budget < per_pair:
            raise ValueError(f"max_memory={budget} bytes is too small for one pair of S = {S}, C = {C} with "
                             f"matcher {options.matcher!r}; need at least {per_pair}")
        available = self.free_bytes() // 2 if budget is None else budget
        pairs = n * (n - 1) // 2 if samples.symmetric else n * m
        return array_solver(samples, options, self), max(1, min(pairs, available // per_pair))


def numpy_ops() -> ArrayOps:
    """The matchers on NumPy: blocks by ``np.matmul``, exact solves by the C++ engine, 1 GiB for a
    chunk. The reference that the tests hold the GPU's array steps to."""
    def blocks(positions, a, b):
        return np.matmul(positions[a], positions[b].transpose(0, 2, 1))

    def solve_max(costs, method):
        result = solve_lap(costs, maximize=True, method=method, device="cpu")
        return result.col, result.objective, result.bound

    return ArrayOps(xp=np, blocks=blocks, solve_max=solve_max, gathers=lambda dtype: True,
                    free_bytes=lambda: 1 << 30)


@dataclasses.dataclass(frozen=True)
class Segment:
    """Positions matched among themselves: ``windows`` windows of ``width`` ranks (or positions)
    from ``start``, window w of sample s in rows s * windows + w of ``positions``; solved by the LAP
    method ``method``: "auto" (exact), "auction" or "greedy"."""

    positions: object
    windows: int
    width: int
    start: int
    method: str


def segments(samples, order, matcher: str, window: int, topk: int, partial_largest: bool, xp):
    """How ``matcher`` cuts each pair: (segments, ranked). ``ranked``: the segments hold positions
    ranked by ``order`` (decreasing norm), so matches are ranks to map back through it. Batch-Optimal's
    short window (S mod k ranks) holds the smallest norms, or with ``partial_largest`` the largest
    (cpp/approx/batch_optimal.h)."""
    count, S, C = samples.shape
    if matcher in ("exact", "near_exact", "auction", "greedy"):
        # near_exact promises at least (1 - NEAR_EXACT_GAP) of the optimum; the GPU's auction has no
        # stop at a certified gap, so the GPU solves these pairs exactly, which keeps the promise.
        method = "auto" if matcher in ("exact", "near_exact") else matcher
        return [Segment(samples, 1, S, 0, method)], False
    ranked = samples[xp.arange(count)[:, None], order]  # (count, S, C), positions by decreasing norm
    parts = []
    if matcher == "batch_optimal":
        k = min(window, S)
        full, short = S // k, S % k
        start = short if partial_largest else 0  # first rank of the full windows
        if short and partial_largest:
            parts.append(Segment(xp.ascontiguousarray(ranked[:, :short]), 1, short, 0, "auto"))
        parts.append(Segment(xp.ascontiguousarray(ranked[:, start:start + full * k]).reshape(count * full, k, C),
                             full, k, start, "auto"))
        if short and not partial_largest:
            parts.append(Segment(xp.ascontiguousarray(ranked[:, full * k:]), 1, short, full * k, "auto"))
    elif matcher == "topk_greedy":
        K = min(topk, S)
        if K:
            parts.append(Segment(xp.ascontiguousarray(ranked[:, :K]), 1, K, 0, "auto"))
        if S > K:
            parts.append(Segment(xp.ascontiguousarray(ranked[:, K:]), 1, S - K, K, "greedy"))
    else:
        raise ValueError(f"unknown matcher {matcher!r}")
    return parts, True


def solve_pairs(parts, ranked: bool, order, a, b, want_perm: bool, ops: ArrayOps):
    """Objectives (float64 (P,)), upper bounds from the solvers (float64 (P,), or None for ranked
    matchers, which have none of their own) and, with ``want_perm``, permutations (int32 (P, S),
    ``perm[p, s]`` = position of sample b[p] matched to position s of sample a[p]) of the pairs
    (a[p], b[p]), indices into the samples behind ``parts``."""
    xp = ops.xp
    pairs = a.shape[0]
    S = order.shape[1]
    objective = xp.zeros(pairs, dtype=xp.float64)
    upper = None
    perm = xp.empty((pairs, S), dtype=xp.int32) if want_perm else None
    rows = xp.arange(pairs)[:, None]
    for part in parts:
        w = xp.arange(part.windows)
        ia = (a[:, None] * part.windows + w).ravel()
        ib = (b[:, None] * part.windows + w).ravel()
        blocks = ops.blocks(part.positions, ia, ib)
        if part.method == "greedy":
            col, obj, bound = greedy_assignment(blocks, True, xp)
        else:
            col, obj, bound = ops.solve_max(blocks, part.method)
        del blocks
        objective += obj.reshape(pairs, part.windows).sum(axis=1)
        if not ranked:
            upper = bound
        if want_perm:
            span = part.windows * part.width
            # Window w's column c is rank start + w * width + c of sample b.
            col = col.reshape(pairs, span) + xp.repeat(w * part.width, part.width)[None, :] + part.start
            if ranked:
                ranks_a = part.start + xp.arange(span)
                perm[rows, order[a][:, ranks_a]] = xp.take_along_axis(order[b], col.astype(xp.intp), axis=1)
            else:
                perm[...] = col
    return objective, upper, perm


def bytes_per_pair(S: int, C: int, itemsize: int, matcher: str, window: int, topk: int, gathers: bool,
                   want_perm: bool) -> int:
    """Memory a pair of a chunk takes while it is solved: all its cost blocks at once, their operands
    when the blocks are built from gathered copies, solver outputs (col, u, v), greedy steps and
    results."""
    total = itemsize * block_values(S, matcher, window, topk)[1] + S * (4 + 8 + 8 + 8 + 2 * itemsize + 1) + 64
    if gathers:
        total += 2 * S * C * itemsize
    if want_perm:
        total += 8 * S
    # Temporaries of the array steps (masks, index arrays) on top of the block itself.
    return int(total * 1.25) + 1


def array_solver(samples: Samples, options: Options, ops: ArrayOps):
    """Pairs (pi, pj) -> (objective, bound or None, perm or None) by the array steps of ``ops``, with
    the bound rule of the C++ engine (cpp/engine/semantic.cpp): the solver's own bound, tightened by the
    norm bound, never below the attained objective."""
    xp = ops.xp
    if samples.symmetric:
        positions, order, norms, offset = samples.xs, samples.order_x, samples.sorted_x, 0
    else:  # one array of positions, so that a pair is two indices into it
        positions = xp.concatenate((samples.xs, samples.ys))
        order = xp.concatenate((samples.order_x, samples.order_y))
        norms = xp.concatenate((samples.sorted_x, samples.sorted_y))
        offset = samples.xs.shape[0]
    parts, ranked = segments(positions, order, options.matcher, options.window, options.topk,
                             options.partial_largest, xp)

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
