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
matching quality (approximate / exact objective) of every approximate matcher.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time

import numpy as np
import scipy
from scipy.optimize import linear_sum_assignment

import semrsm
from semrsm import _core
from semrsm.datasets import semantic_features


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
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
        settings = [None, 1] if single_blas else [None]
    except ImportError:
        settings = [None]
    best, objectives = float("inf"), None
    for limit in settings:
        times = []
        with contextlib.nullcontext() if limit is None else threadpool_limits(limits=limit, user_api="blas"):
            for _ in range(repeats):
                start = time.perf_counter()
                out = [baseline_pair(xs[i], xs[j]) if k is None else baseline_batch_optimal_pair(xs[i], xs[j], k)
                       for i, j in pairs]
                times.append((time.perf_counter() - start) / len(pairs))
        best = min(best, statistics.median(times))
        objectives = np.array([o[0] for o in out])
    return best, objectives


# ---------------------------------------------------------------- helpers
def median_time(f, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        commit = "?"
    return (f"{os.cpu_count()} cores ({cpu}); Python {platform.python_version()}, NumPy {np.__version__}, "
            f"SciPy {scipy.__version__}, semrsm {semrsm.__version__} (commit {commit})")


def upper_pairs(n):
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


# ---------------------------------------------------------------- the benchmark
CONFIG = {  # S: (samples for semrsm, pairs timed in the baseline exact, pairs timed in baseline BO)
    49: (40, 200, 0),
    196: (24, 60, 0),
    784: (10, 8, 0),
    3136: (12, 1, 15),  # 66 pairs: per-call work (layout copy, norm sort) is small beside them
}


ALL_MATCHERS = ("jv", "batch_optimal", "topk_greedy", "greedy")


def run(sides, threads, repeats, window=128, topk=None, matchers=ALL_MATCHERS):
    print(f"# Machine: {machine()}; semrsm threads: {threads}\n")
    print("## Pairs per second (medians; ratio = semrsm / baseline, same run, same data)\n")
    print(f"| S | matcher | semrsm, {threads} threads | semrsm, 1 thread | baseline | ratio |")
    print("|---|---|---|---|---|---|")
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
            print(f"| {S} | {label} | {fast:.1f} | {one:.1f} | {base} | {ratio} |")

        exact_obj = semrsm.semantic_rsm(x, kernel="inner", threads=threads, progress=False)[iu]
        if "jv" in matchers:
            t_base = None
            if base_pairs:
                # At S = 3136 scipy takes the time (tens of seconds a pair); BLAS threads do not matter.
                t_base, base_obj = baseline_seconds_per_pair(xs, pairs[:base_pairs], repeats=rep,
                                                             single_blas=S < 3136)
                assert np.allclose(base_obj, exact_obj[:base_pairs], rtol=1e-5), "exact objectives disagree"
            row("exact (jv)", "jv", {}, t_base)

        approx = [("batch_optimal", dict(window=window)), ("topk_greedy", dict(topk=topk or window)),
                  ("greedy", {})]
        for name, options in approx:
            if name not in matchers or (name in ("batch_optimal", "topk_greedy") and S <= window):
                continue  # not asked for, or the whole block is one window: the exact matcher
            obj = semrsm.semantic_rsm(x, kernel="inner", matcher=name, threads=threads, progress=False,
                                      **options)[iu]
            ratio = obj / exact_obj
            quality_rows.append((S, name, options, float(np.median(ratio)), float(ratio.min())))
            label = f"{name} (k={options['window']})" if name == "batch_optimal" else \
                f"{name} (K={options['topk']})" if name == "topk_greedy" else name
            t_bo = None
            if name == "batch_optimal" and base_bo_pairs:
                t_bo, _ = baseline_seconds_per_pair(xs, pairs[:base_bo_pairs], k=window, repeats=repeats)
            row(label, name, options, t_bo)

    print("\n## Matching quality: approximate / exact objective over all pairs\n")
    print("| S | matcher | median | worst |")
    print("|---|---|---|---|")
    for S, name, options, med, worst in quality_rows:
        print(f"| {S} | {name} {options or ''} | {med:.4f} | {worst:.4f} |")


def gemm(threads, repeats):
    print("\n## Cost-block GEMM: engine vs numpy.matmul on the same float32 blocks (GFMA/s, medians)\n")
    print("| blocks | engine, 1 thread | engine, all threads | numpy.matmul |")
    print("|---|---|---|---|")
    rng = np.random.default_rng(0)
    for batch, n, K in [(64, 49, 256), (16, 196, 256), (2, 784, 256), (1, 3136, 256), (25, 128, 256)]:
        a = np.maximum(rng.normal(size=(batch, n, K)), 0).astype(np.float32)
        b = np.maximum(rng.normal(size=(batch, n, K)), 0).astype(np.float32)
        fma = batch * n * n * K
        t1, o1 = median_time(lambda: _core.negated_cost_blocks(a, b, 1), repeats)
        tn, _ = median_time(lambda: _core.negated_cost_blocks(a, b, threads), repeats)
        tm, om = median_time(lambda: np.matmul(a, b.transpose(0, 2, 1)), repeats)
        assert np.allclose(-o1, om, rtol=1e-4, atol=1e-3)
        print(f"| {batch} x ({n} x {K}) x ({K} x {n}) | {fma / t1 / 1e9:.1f} | {fma / tn / 1e9:.1f} | "
              f"{fma / tm / 1e9:.1f} |")


def lap_choice(repeats):
    from semrsm.datasets import semantic_costs

    print("\n## Exact solver behind matcher='jv': LAP alone on the same semantic cost blocks (ms per block)\n")
    print("| S | jv | hybrid (used) | scipy |")
    print("|---|---|---|---|")
    for S in (196, 784):
        c = semantic_costs(8, S)
        row = [S]
        for method in ("jv", "hybrid"):
            t, _ = median_time(lambda: semrsm.solve(c, method=method, threads=1), repeats)
            row.append(t / len(c) * 1e3)
        t, _ = median_time(lambda: [linear_sum_assignment(ci) for ci in c], 1)
        row.append(t / len(c) * 1e3)
        print("| {} | {:.2f} | {:.2f} | {:.2f} |".format(*row))


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
    run(sides, args.threads, args.repeats, matchers=args.matchers)
    if not args.no_extras:
        gemm(args.threads, args.repeats)
        lap_choice(args.repeats)


if __name__ == "__main__":
    main()
