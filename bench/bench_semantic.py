"""Semantic RSMs on the CPU: semrsm against a baseline written the way the authors' code works.

Run:  python bench/bench_semantic.py [--quick] [--threads N]

Data: ReLU features of a random conv net on crops of the photographs bundled with scikit-image
(semrsm.datasets.semantic_features), C = 256 channels, S = 49, 196, 784, 3136 positions.

Baseline (Wald et al.'s pipeline, per pair in Python): cost matrix X_i X_j^T with NumPy, scipy's
linear_sum_assignment on it, the three kernels (inner, cosine, squared distance for RBF) computed
on the permuted vectors. Their Batch-Optimal: full cost matrix, positions of both samples sorted
by norm for every pair, scipy on every window of k ranks, then the same kernels.

Prints medians of repeated timings (pairs per second), the ratios against the baseline measured in
the same run on the same data, GEMM throughput against numpy.matmul on the same blocks, and the
matching quality (approximate / exact objective) of every approximate matcher, near_exact included,
with its pairs per second over the exact matcher's.
"""

from __future__ import annotations

import argparse
import contextlib
import os

import numpy as np
from scipy.optimize import linear_sum_assignment

import semrsm
from semrsm import _core
from semrsm.datasets import semantic_costs, semantic_features

from _common import load_average, machine_lines, markdown_header, markdown_row, median_time

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # optional: the baseline then runs with NumPy's default BLAS threads only
    threadpool_limits = None


# ---------------------------------------------------------------- the baseline, as the authors do it
def baseline_pair(a: np.ndarray, b: np.ndarray):
    """One pair (S x C each): cost matrix, scipy, kernels on the permuted vectors."""
    sim = a @ b.T
    rows, cols = linear_sum_assignment(sim, maximize=True)
    b_perm = b[cols]
    inner = float((a[rows] * b_perm).sum())
    cosine = inner / (np.linalg.norm(a) * np.linalg.norm(b_perm))
    sqdist = float(((a[rows] - b_perm) ** 2).sum())
    return inner, cosine, sqdist


def baseline_batch_optimal_pair(a: np.ndarray, b: np.ndarray, k: int):
    """Their Batch-Optimal: full cost matrix, norm sort per pair (increasing norm, so the short
    window holds the largest norms), scipy per window."""
    sim = a @ b.T
    order_a = np.argsort(np.linalg.norm(a, axis=1))
    order_b = np.argsort(np.linalg.norm(b, axis=1))
    perm = np.empty(len(a), dtype=np.int64)
    for w in range(0, len(a), k):
        ia, ib = order_a[w:w + k], order_b[w:w + k]
        rows, cols = linear_sum_assignment(sim[np.ix_(ia, ib)], maximize=True)
        perm[ia[rows]] = ib[cols]
    b_perm = b[perm]
    inner = float((a * b_perm).sum())
    cosine = inner / (np.linalg.norm(a) * np.linalg.norm(b_perm))
    sqdist = float(((a - b_perm) ** 2).sum())
    return inner, cosine, sqdist


def baseline_seconds_per_pair(xs, pairs, k=None, repeats=1, single_blas=True):
    """Seconds per pair of the baseline (median over repeats) and its objectives.

    Multi-threaded BLAS on tiny blocks can stall when the machine is loaded, which would flatter
    semrsm; so with threadpoolctl installed the baseline also runs with one BLAS thread and keeps
    the faster of the two settings.
    """
    settings = [None, 1] if single_blas and threadpool_limits is not None else [None]
    best, objectives = float("inf"), None
    for limit in settings:
        with contextlib.nullcontext() if limit is None else threadpool_limits(limits=limit, user_api="blas"):
            seconds, out = median_time(lambda: [baseline_pair(xs[i], xs[j]) if k is None else
                                                baseline_batch_optimal_pair(xs[i], xs[j], k) for i, j in pairs],
                                       repeats)
        best = min(best, seconds / len(pairs))
        objectives = np.array([o[0] for o in out])
    return best, objectives


# ---------------------------------------------------------------- helpers
def upper_pairs(n):
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


# ---------------------------------------------------------------- the benchmark
CONFIG = {  # S: (samples for semrsm, pairs timed in the baseline exact, pairs timed in baseline BO)
    49: (40, 200, 0),
    196: (24, 60, 0),
    784: (10, 8, 0),
    3136: (12, 1, 15),  # 66 pairs: per-call work (layout copy, norm sort) is small beside them
}


ALL_MATCHERS = ("jv", "near_exact", "batch_optimal", "topk_greedy", "greedy")


def run(sides, threads, repeats, window=128, topk=None, matchers=ALL_MATCHERS):
    print("## Pairs per second (medians; ratio = semrsm / baseline, same run, same data)\n")
    print(markdown_header(["S", "matcher", f"semrsm, {threads} threads", "semrsm, 1 thread", "baseline", "ratio"]))
    quality_rows = []
    for side in sides:
        S = side * side
        n, base_pairs, base_bo_pairs = CONFIG[S]
        x = semantic_features(n, side, 256, seed=S)          # (n, 256, side, side) float32
        xs = np.ascontiguousarray(x.reshape(n, 256, S).transpose(0, 2, 1))  # (n, S, C) for the baseline
        pairs = upper_pairs(n)
        npairs = len(pairs)
        rep = repeats if S < 3136 else 1
        iu = np.triu_indices(n, 1)

        def pairs_per_second(matcher, options, t):
            # All three kernels from one solve per pair, as the baseline computes all three.
            # The approximations are fast at every S: medians of `repeats` runs for them too.
            seconds, _ = median_time(lambda: semrsm.semantic_rsm(
                x, kernel=["inner", "cosine", "rbf"], matcher=matcher, threads=t, progress=False, **options),
                rep if matcher == "jv" else repeats)
            return npairs / seconds

        def row(label, matcher, options, baseline_seconds=None):
            fast = pairs_per_second(matcher, options, threads)
            one = pairs_per_second(matcher, options, 1)
            base = "-" if baseline_seconds is None else f"{1 / baseline_seconds:.2f}"
            ratio = "-" if baseline_seconds is None else f"{fast * baseline_seconds:.1f}x"
            print(markdown_row([S, label, f"{fast:.1f}", f"{one:.1f}", base, ratio]), flush=True)
            return fast

        exact_obj = semrsm.semantic_rsm(x, kernel="inner", threads=threads, progress=False)[iu]
        exact_fast = None
        if "jv" in matchers:
            t_base = None
            if base_pairs:
                # At S = 3136 scipy takes the time (tens of seconds a pair); BLAS threads do not matter.
                t_base, base_obj = baseline_seconds_per_pair(xs, pairs[:base_pairs], repeats=rep,
                                                             single_blas=S < 3136)
                assert np.allclose(base_obj, exact_obj[:base_pairs], rtol=1e-5), "exact objectives disagree"
            exact_fast = row("exact (jv)", "jv", {}, t_base)

        approx = [("near_exact", {}), ("batch_optimal", dict(window=window)),
                  ("topk_greedy", dict(topk=topk or window)), ("greedy", {})]
        for name, options in approx:
            if name not in matchers or (name in ("batch_optimal", "topk_greedy") and S <= window):
                continue  # not asked for, or the whole block is one window: the exact matcher
            obj = semrsm.semantic_rsm(x, kernel="inner", matcher=name, threads=threads, progress=False,
                                      **options)[iu]
            ratio = obj / exact_obj
            label = f"{name} (k={options['window']})" if name == "batch_optimal" else \
                f"{name} (K={options['topk']})" if name == "topk_greedy" else name
            t_bo = None
            if name == "batch_optimal" and base_bo_pairs:
                t_bo, _ = baseline_seconds_per_pair(xs, pairs[:base_bo_pairs], k=window, repeats=repeats)
            fast = row(label, name, options, t_bo)
            speed = "-" if exact_fast is None else f"{fast / exact_fast:.2f}x"
            quality_rows.append((S, label, float(np.median(ratio)), float(ratio.min()), speed))

    print("\n## Matching quality: approximate / exact objective over all pairs\n")
    print(markdown_header(["S", "matcher", "median", "worst", f"pairs/s over exact ({threads} threads)"]))
    for S, label, med, worst, speed in quality_rows:
        print(markdown_row([S, label, f"{med:.5f}", f"{worst:.5f}", speed]))


def gemm(threads, repeats):
    print("\n## Cost-block GEMM: engine vs numpy.matmul on the same float32 blocks (GFMA/s, medians)\n")
    print(markdown_header(["blocks", "engine, 1 thread", "engine, all threads", "numpy.matmul"]))
    rng = np.random.default_rng(0)
    for batch, n, K in [(64, 49, 256), (16, 196, 256), (2, 784, 256), (1, 3136, 256), (25, 128, 256)]:
        a = np.maximum(rng.normal(size=(batch, n, K)), 0).astype(np.float32)
        b = np.maximum(rng.normal(size=(batch, n, K)), 0).astype(np.float32)
        fma = batch * n * n * K
        t1, o1 = median_time(lambda: _core.negated_cost_blocks(a, b, 1), repeats)
        tn, _ = median_time(lambda: _core.negated_cost_blocks(a, b, threads), repeats)
        tm, om = median_time(lambda: np.matmul(a, b.transpose(0, 2, 1)), repeats)
        assert np.allclose(-o1, om, rtol=1e-4, atol=1e-3)
        print(markdown_row([f"{batch} x ({n} x {K}) x ({K} x {n})", f"{fma / t1 / 1e9:.1f}",
                            f"{fma / tn / 1e9:.1f}", f"{fma / tm / 1e9:.1f}"]))


def lap_choice(repeats):
    print("\n## Exact solver behind matcher='jv': LAP alone on the same semantic cost blocks (ms per block)\n")
    print(markdown_header(["S", "jv", "hybrid (used)", "scipy"]))
    for S in (196, 784):
        c = semantic_costs(8, S)
        row = [S]
        for method in ("jv", "hybrid"):
            t, _ = median_time(lambda: semrsm.solve(c, method=method, threads=1), repeats)
            row.append(t / len(c) * 1e3)
        t, _ = median_time(lambda: [linear_sum_assignment(ci) for ci in c], 1)
        row.append(t / len(c) * 1e3)
        print(markdown_row([row[0], *(f"{t:.2f}" for t in row[1:])]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S = 49 and 196 only")
    parser.add_argument("--sizes", type=int, nargs="+", choices=sorted(CONFIG), help="only these S")
    parser.add_argument("--no-extras", action="store_true", help="skip the GEMM and LAP tables")
    parser.add_argument("--matchers", nargs="+", choices=ALL_MATCHERS, default=ALL_MATCHERS,
                        help="only these rows")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sides = (7, 14) if args.quick else (7, 14, 28, 56)
    if args.sizes:
        sides = [int(round(np.sqrt(S))) for S in args.sizes]
    print("# Semantic RSMs on the CPU: semrsm against the authors' pipeline\n")
    print("\n".join(machine_lines(["threadpoolctl"])) + f"\n- semrsm threads: {args.threads}\n", flush=True)
    run(sides, args.threads, args.repeats, matchers=args.matchers)
    if not args.no_extras:
        gemm(args.threads, args.repeats)
        lap_choice(args.repeats)
    print(f"\nload average at the end {load_average()}")


if __name__ == "__main__":
    main()
