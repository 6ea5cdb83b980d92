"""The matchers of the semantic RSM as whole-array steps of one array module: the GPU engine.

Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for Neural Networks", NeurIPS
2024, sec. 3.2. On the GPU every step runs on CuPy arrays in the device's memory, a chunk of pairs
at a time: the cost blocks (``cuda/cost/pair_blocks.cu``), the exact LAPs (``cuda/lap/sap.cu``),
the greedy rule (below), objectives and bounds; nothing returns to the host inside the pair loop.
The same functions run on NumPy arrays in the tests, where they are checked against the C++ engine,
so the tie rules and index arithmetic that the GPU runs are the ones CI tests.

Batch-Optimal and TopK-Greedy work on the positions of each sample ranked by norm, made once
(``rank_positions``): a window of k ranks of every sample is then a contiguous k x C slab, and the
window blocks of all pairs are ordinary pair blocks of the slabs, (a * windows + w, b * windows + w).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Optional

import numpy as np

__all__ = ["ArrayOps", "numpy_ops", "greedy_assignment", "stable_argsort", "Segment", "segments",
           "solve_pairs", "bytes_per_pair"]


@dataclasses.dataclass(frozen=True)
class ArrayOps:
    """What the matchers need from an engine, for arrays of module ``xp``.

    blocks(positions, a, b)
        ``positions[a] @ positions[b].T`` for index arrays a and b: (P, w, w) cost blocks.
    solve_max(blocks)
        Exact maximisation of a (P, w, w) batch: (col int32 (P, w), objective float64 (P,),
        upper bound float64 (P,)).
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


def numpy_ops() -> ArrayOps:
    """The matchers on NumPy: blocks by ``np.matmul``, exact solves by the C++ engine, 1 GiB for a
    chunk. The reference that the tests hold the GPU's array steps to."""
    from . import lap

    def blocks(positions, a, b):
        return np.matmul(positions[a], positions[b].transpose(0, 2, 1))

    def solve_max(costs):
        result = lap.solve(costs, maximize=True, device="cpu")
        return result.col, result.objective, result.bound

    return ArrayOps(xp=np, blocks=blocks, solve_max=solve_max, gathers=lambda dtype: True,
                    free_bytes=lambda: 1 << 30)


def stable_argsort(keys, xp):
    """Indices that sort ``keys`` along the last axis, equal keys in index order (CuPy's sort is
    always stable and takes no ``kind``)."""
    return np.argsort(keys, axis=-1, kind="stable") if xp is np else xp.argsort(keys, axis=-1)


def greedy_assignment(costs, maximize: bool, xp):
    """The greedy rule of cpp/lap/greedy.h on a batch (B, n, m), n <= m, as array steps.

    Rows are visited in order of their best entry (ties: lower row first), and each takes its best
    column still free (ties: lower column): the same assignment as the C++ engine, tie for tie. One
    step per row, each over the whole batch.

    Returns
    -------
    col : int32 (B, n)
    objective : float64 (B,)
        Sum of the assigned entries.
    bound : float64 (B,)
        The row/column bound of cpp/lap/greedy.h: the sum of the row optima or of the n best column
        optima, whichever is tighter (no assignment does better).
    """
    batch, n, m = costs.shape
    row_best = costs.max(axis=2) if maximize else costs.min(axis=2)
    # Minimisation keys, as the C++ engine sorts them: negating is exact.
    order = stable_argsort(-row_best if maximize else row_best, xp)
    pick = xp.argmax if maximize else xp.argmin
    blocked = -np.inf if maximize else np.inf
    taken = xp.zeros((batch, m), dtype=bool)
    col = xp.empty((batch, n), dtype=xp.int32)
    problems = xp.arange(batch)
    for step in range(n):
        rows = order[:, step]
        choice = pick(xp.where(taken, blocked, costs[problems, rows]), axis=1)
        taken[problems, choice] = True
        col[problems, rows] = choice
    objective = xp.take_along_axis(costs, col[:, :, None].astype(xp.intp), axis=2)[..., 0]
    objective = objective.sum(axis=1, dtype=xp.float64)
    col_best = costs.max(axis=1) if maximize else costs.min(axis=1)
    if n < m:
        col_best = xp.sort(col_best, axis=1)
        col_best = col_best[:, m - n:] if maximize else col_best[:, :n]
    rows_total = row_best.sum(axis=1, dtype=xp.float64)
    cols_total = col_best.sum(axis=1, dtype=xp.float64)
    bound = xp.minimum(rows_total, cols_total) if maximize else xp.maximum(rows_total, cols_total)
    return col, objective, bound


@dataclasses.dataclass(frozen=True)
class Segment:
    """Positions matched among themselves: ``windows`` windows of ``width`` ranks (or positions)
    from ``start``, window w of sample s in rows s * windows + w of ``positions``; solved exactly or
    greedily."""

    positions: object
    windows: int
    width: int
    start: int
    exact: bool


def segments(samples, order, matcher: str, window: int, topk: int, partial_largest: bool, xp):
    """How ``matcher`` cuts each pair: (segments, ranked). ``ranked``: the segments hold positions
    ranked by ``order`` (decreasing norm), so matches are ranks to map back through it. Batch-Optimal's
    short window (S mod k ranks) holds the smallest norms, or with ``partial_largest`` the largest
    (cpp/approx/batch_optimal.h)."""
    count, S, C = samples.shape
    if matcher in ("jv", "auction", "greedy"):
        return [Segment(samples, 1, S, 0, matcher != "greedy")], False
    ranked = samples[xp.arange(count)[:, None], order]  # (count, S, C), positions by decreasing norm
    parts = []
    if matcher == "batch_optimal":
        k = min(window, S)
        full, short = S // k, S % k
        start = short if partial_largest else 0  # first rank of the full windows
        if short and partial_largest:
            parts.append(Segment(xp.ascontiguousarray(ranked[:, :short]), 1, short, 0, True))
        parts.append(Segment(xp.ascontiguousarray(ranked[:, start:start + full * k]).reshape(count * full, k, C),
                             full, k, start, True))
        if short and not partial_largest:
            parts.append(Segment(xp.ascontiguousarray(ranked[:, full * k:]), 1, short, full * k, True))
    elif matcher == "topk_greedy":
        K = min(topk, S)
        if K:
            parts.append(Segment(xp.ascontiguousarray(ranked[:, :K]), 1, K, 0, True))
        if S > K:
            parts.append(Segment(xp.ascontiguousarray(ranked[:, K:]), 1, S - K, K, False))
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
        if part.exact:
            col, obj, bound = ops.solve_max(blocks)
        else:
            col, obj, bound = greedy_assignment(blocks, True, xp)
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
    """Memory a pair of a chunk takes while it is solved: its cost blocks, their operands when the
    blocks are built from gathered copies, solver outputs (col, u, v), greedy steps and results."""
    if matcher == "batch_optimal":
        k = min(window, S)
        values = (S // k) * k * k + (S % k) ** 2
    elif matcher == "topk_greedy":
        K = min(topk, S)
        values = K * K + (S - K) ** 2
    else:
        values = S * S
    total = itemsize * values + S * (4 + 8 + 8 + 8 + 2 * itemsize + 1) + 64
    if gathers:
        total += 2 * S * C * itemsize
    if want_perm:
        total += 8 * S
    # Temporaries of the array steps (masks, index arrays) on top of the block itself.
    return int(total * 1.25) + 1
