"""The CPU engine of the semantic RSM: pairs solved by the C++ engine (cpp/engine/semantic.cpp) in parallel
on its threads, a chunk at a time."""

from __future__ import annotations

import contextlib
from typing import Optional

import numpy as np

from .. import _core
from .._floats import sum_rounding
from ..lap._result import Status
from ._plan import Options, Samples, available_memory, block_values, kernel_phase_bytes, result_bytes, too_small

__all__ = ["CpuEngine"]

#: Work per chunk, at about 1e10 multiply-adds per second and thread (a pair's blocks take C of them
#: per value, and the solve about 50): a quarter of a second, so that the progress bar moves and the
#: Python overhead of a chunk stays small.
_CHUNK_WORK = 0.25 * 1e10


class CpuEngine:
    """Solves chunks of pairs on the C++ engine; the chunk loop's hooks do nothing here (the engine
    returns when a chunk is done, and memory is planned, not discovered)."""

    xp = np
    out_of_memory = ()
    queue_depth = 0  # chunks in flight while the progress bar waits: none, calls return when done

    @staticmethod
    def watch():
        return contextlib.nullcontext()

    def release(self):
        pass

    def mark(self):
        return None

    def wait(self, token):
        pass

    @staticmethod
    def objective_error(S: int, C: int, dtype) -> float:
        """The objective's rounding relative to ||x_i|| ||y_j||: the engine recomputes it from the
        vectors as a float64 sum of S C products (products of float32 values are exact in float64)."""
        return sum_rounding(S * C)

    def prepare(self, samples: Samples, options: Options, results: Optional[int] = None):
        """(solve, pairs per chunk) within the memory budget; fewer threads are used, or a
        ValueError says what does not fit, rather than exceeding it. ``results``: bytes of the outputs
        the call holds (default: those of an N x M RSM and its kernels).

        The budget holds the samples' copies and norm data, the N x M outputs, the chunk loop (each
        thread's scratch, each pair's results) and the kernels that follow it (their RSMs, the RBF
        median's copy of the distances, a block of rows). The last two are counted together, though
        they do not overlap: the allocator keeps much of what the loop freed (glibc measured 26 MiB
        after a 117 MiB loop), where the kernels' large arrays cannot reuse it."""
        n, m, S, C = samples.shape
        budget = available_memory() // 4 if options.max_memory is None else options.max_memory
        largest, values = block_values(S, options.matcher, options.window, options.topk)
        side = int(round(largest ** 0.5))
        item = samples.xs.itemsize
        # What each thread holds while it solves a pair (its cost block, the GEMM's packed panels, the
        # gathered rows, the solver's scratch), and what each pair of a chunk takes: its results, its
        # share of the chunk loop's index arrays (the pairs' i, j and their arithmetic) and, for all
        # permutations of a symmetric RSM, the inverse one.
        per_thread = item * (largest + 2 * side * C + S * C + 16) + 64 * S
        per_pair = 8 * 2 + 1 + 16 + 64 + (8 * S if options.all_perms else 0)
        kernels = 0 if results is not None else kernel_phase_bytes(n, m, samples.symmetric, options)
        fixed = (result_bytes(n, m, S, options) if results is None else results) + kernels + samples.owned_bytes
        if fixed + per_thread + per_pair > budget:
            then = f", then the kernels {', '.join(options.kernels)} ({kernels} bytes)" if kernels else ""
            raise too_small(options, samples.shape, fixed + per_thread + per_pair,
                            f"one {side} x {side} cost block{then}")
        threads = max(1, min(options.threads, (budget - fixed - per_pair) // per_thread))
        chunk = max(4 * threads, int(threads * _CHUNK_WORK / (values * (C + 50))))
        chunk = max(1, min((budget - fixed - threads * per_thread) // per_pair, chunk))
        return self._solver(samples, options, threads), chunk

    @staticmethod
    def _solver(samples: Samples, options: Options, threads: int):
        """Pairs (pi, pj) -> (objective, bound or None, perm or None)."""

        def solve(pi, pj, want_perm: bool, want_bound: bool):
            objective, bound, perm, status = _core.semantic_pairs(
                samples.xs, samples.ys, pi, pj, samples.order_x, samples.order_y, samples.sorted_x,
                samples.sorted_y, options.matcher, options.window, options.partial_largest, options.topk, want_perm,
                want_bound, threads)
            if (status == Status.cancelled).any():  # Ctrl-C reached the engine between its polls
                raise KeyboardInterrupt
            if (status != Status.ok).any():
                first = int(np.flatnonzero(status != Status.ok)[0])
                raise RuntimeError(f"the engine left pair {first} unsolved (status {int(status[first])})")
            return objective, bound, perm

        return solve
