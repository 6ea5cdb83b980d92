"""The chunk loop of the semantic RSM: every pair solved, a chunk at a time, by one engine (the C++
engine, or array steps on CuPy), into the N x M outputs, with a progress bar and, for array engines,
out-of-memory recovery."""

from __future__ import annotations

import contextlib

import numpy as np
from tqdm.auto import tqdm

from .._backend import array_module

__all__ = ["ListedPairs", "Pairs", "perms_of", "run_chunks"]


class Pairs:
    """The pairs to solve, enumerated row by row without storing them: (i, j > i) when symmetric,
    every (i, j) otherwise. Results go to [i, j] of (N, M) outputs (and [j, i] when symmetric)."""

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
        return self.of(xp.arange(lo, hi, dtype=xp.int64), xp)

    def of(self, k, xp=np):
        """Pairs number ``k`` (an int64 array of module ``xp``) as index arrays (i, j)."""
        if xp is np:
            start = self.start
        else:
            if self._device_start is None:
                self._device_start = xp.asarray(self.start)
            start = self._device_start
        i = xp.searchsorted(start, k, side="right") - 1
        j = k - start[i] + (i + 1 if self.symmetric else 0)
        return i.astype(xp.int64), j.astype(xp.int64)

    @staticmethod
    def at(lo: int, hi: int, pi, pj):
        """Where the results of pairs lo..hi, (pi, pj), go in the outputs."""
        return pi, pj


class ListedPairs:
    """Pairs given as two index arrays, solved in their order; the result of pair k goes to [k] of
    (P,) outputs."""

    symmetric = False

    def __init__(self, i: np.ndarray, j: np.ndarray):
        self.i, self.j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
        self.count = len(self.i)
        self._device = None  # (i, j) on the GPU, copied there once

    def slice(self, lo: int, hi: int, xp=np):
        if xp is np:
            return self.i[lo:hi], self.j[lo:hi]
        if self._device is None:
            self._device = xp.asarray(self.i), xp.asarray(self.j)
        return self._device[0][lo:hi], self._device[1][lo:hi]

    @staticmethod
    def at(lo: int, hi: int, pi, pj):
        return slice(lo, hi)


def _inverse(perm):
    """The inverse of each permutation (a row of ``perm``)."""
    xp = array_module(perm)
    inv = xp.empty_like(perm)
    inv[xp.arange(perm.shape[0])[:, None], perm] = xp.arange(perm.shape[-1], dtype=perm.dtype)[None, :]
    return inv


def run_chunks(pairs, chunk, progress, solve, matcher, objective, bound, perm, engine):
    """Solve every pair of ``pairs`` (``Pairs`` or ``ListedPairs``), a chunk at a time, into objective
    (and bound, perm) where ``pairs.at`` says. A chunk that runs out of
    memory (``engine.out_of_memory``) is halved and tried again, and up to ``engine.queue_depth``
    chunks stay queued while the progress bar waits for the oldest."""
    xp = engine.xp
    if progress is False or pairs.count == 0:
        bar = contextlib.nullcontext(None)  # not even tqdm's monitor thread
    else:
        bar = tqdm(total=pairs.count, unit="pair", desc=f"semantic RSM ({matcher})", delay=0 if progress else 2.0)
    queued = []  # (token of a chunk's work, its pairs)
    with bar as bar:
        lo = 0
        while lo < pairs.count:
            hi = min(pairs.count, lo + chunk)
            try:
                with engine.watch():
                    pi, pj = pairs.slice(lo, hi, xp)
                    obj, upper, p = solve(pi, pj, perm is not None, bound is not None)
                    # A chunk that fails while storing is simply stored again.
                    at = pairs.at(lo, hi, pi, pj)
                    objective[at] = obj
                    if pairs.symmetric:
                        objective[pj, pi] = obj
                    if bound is not None:
                        bound[at] = upper
                        if pairs.symmetric:
                            bound[pj, pi] = upper
                    if perm is not None:
                        perm[at] = p
                        if pairs.symmetric:
                            perm[pj, pi] = _inverse(p)
            except engine.out_of_memory as exc:
                if chunk == 1:
                    raise MemoryError(f"not even one pair fits in the GPU's free memory (matcher "
                                      f"{matcher!r}); free device memory or take a smaller window") from exc
                chunk = max(1, chunk // 2)
                retry = True
            else:
                retry = False
            if retry:  # released outside the except clause, once the failed chunk's arrays are gone
                engine.release()
                continue
            queued.append((engine.mark(), hi - lo))
            while len(queued) > engine.queue_depth:
                token, done = queued.pop(0)
                engine.wait(token)
                if bar is not None:
                    bar.update(done)
            lo = hi
        for token, done in queued:
            engine.wait(token)
            if bar is not None:
                bar.update(done)


def perms_of(requested, solve, S: int, symmetric: bool, xp):
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
