"""GPU benchmarks of the CUDA engine, side by side with cuBLAS, the CPU engine and scipy in one run.

    python bench/bench_cuda.py [--quick] [--out FILE.md]  (figures go into bench/RESULTS.md, section 4)

Cost blocks: cuda/cost/pair_blocks.cu against CuPy's matmul (cuBLAS, float32, TF32 off) on the same
pairs, once with the operands already gathered (the GEMM alone) and once gathering them (what a
caller without our kernel pays). Batched LAP: semrsm.solve on CuPy input (the whole call:
validation, solve, status check) against the CPU engine on every core and scipy, all on the same
float32 problems. Times are medians; GPU times with CUDA events after a warm-up run. scipy, and the
CPU engine on the largest batches, are timed on a subset and scaled per problem (said in the table).
End to end: semrsm.semantic_rsm on CuPy features for the exact matcher and the approximations.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cupy as cp
import numpy as np
from scipy.optimize import linear_sum_assignment as scipy_lsa

import semrsm
from semrsm.datasets import semantic_features
from semrsm.semantic import _cuda

from _common import (cupy_lines, cuda_median_seconds, load_average, machine_lines, markdown_header, markdown_row,
                     median_seconds)


def features(samples, n, channels, seed=0):
    """ReLU conv features of photo crops, (samples, n, channels) float32 (semrsm.datasets)."""
    side = int(np.ceil(np.sqrt(n)))  # n not a square: the first n positions of a larger map
    x = semantic_features(samples, side, channels, seed=seed)
    x = x.reshape(samples, channels, side * side)[:, :, :n]
    return np.ascontiguousarray(x.transpose(0, 2, 1))


def semantic_batch(count, n, channels=256, seed=0):
    """`count` negated inner-product cost blocks -X_i X_j^T (i != j), built on the GPU: the
    distribution of semrsm.datasets.semantic_costs."""
    samples = max(2, int(np.ceil(np.sqrt(2 * count))) + 1)
    x = cp.asarray(features(samples, n, channels, seed))
    rng = np.random.default_rng(seed)
    i = rng.integers(0, samples, count)
    j = (i + rng.integers(1, samples, count)) % samples
    blocks = _cuda.pair_cost_blocks(x, cp.asarray(np.stack([i, j], 1)))
    blocks *= -1
    return blocks


def bench_cost_blocks(quick):
    rows = [markdown_header(["S", "C", "pairs", "ours f32 ms", "cuBLAS f32 (gathered) ms", "gather+cuBLAS ms",
                             "ours/cuBLAS throughput", "ours f32 TFLOP/s", "ours TF32 ms", "TF32 rel. error"])]
    os.environ.setdefault("CUPY_TF32", "0")
    for s, c, count in [(196, 512, 1000 if quick else 4000), (784, 256, 100 if quick else 400)]:
        rng = np.random.default_rng(1)
        samples = 64
        x = cp.asarray(np.maximum(rng.standard_normal((samples, s, c)), 0).astype(np.float32))
        pairs = rng.integers(0, samples, (count, 2))
        pd = cp.asarray(pairs)
        out = cp.empty((count, s, s), dtype=cp.float32)
        t_ours = cuda_median_seconds(lambda: _cuda.pair_cost_blocks(x, pd, out=out))
        variants = []
        for tile in ("98", "112k8", "112", "128"):  # every float32 kernel, forced (SEMRSM_PAIR_TILE)
            os.environ["SEMRSM_PAIR_TILE"] = tile
            ms = cuda_median_seconds(lambda: _cuda.pair_cost_blocks(x, pd, out=out)) * 1e3
            variants.append(f"{tile}: {ms:.2f}")
        del os.environ["SEMRSM_PAIR_TILE"]
        print(f"S={s} C={c} float32 kernels (ms): " + ", ".join(variants), flush=True)
        t_tf32 = cuda_median_seconds(lambda: _cuda.pair_cost_blocks(x, pd, out=out, tf32=True))
        sub = pd[:50]
        ref = cp.matmul(x[sub[:, 0]].astype(cp.float64), x[sub[:, 1]].astype(cp.float64).transpose(0, 2, 1))
        tf = _cuda.pair_cost_blocks(x, sub, tf32=True).astype(cp.float64)
        err_tf32 = float(cp.linalg.norm(tf - ref) / cp.linalg.norm(ref))
        f32 = _cuda.pair_cost_blocks(x, sub).astype(cp.float64)
        err_f32 = float(cp.linalg.norm(f32 - ref) / cp.linalg.norm(ref))
        a, b = x[pd[:, 0]], x[pd[:, 1]]
        bt = b.transpose(0, 2, 1)
        t_blas = cuda_median_seconds(lambda: cp.matmul(a, bt, out=out))
        t_gather = cuda_median_seconds(lambda: cp.matmul(x[pd[:, 0]], x[pd[:, 1]].transpose(0, 2, 1), out=out))
        flops = 2.0 * count * s * s * c
        rows.append(markdown_row([s, c, count, f"{t_ours * 1e3:.2f}", f"{t_blas * 1e3:.2f}", f"{t_gather * 1e3:.2f}",
                                  f"{t_blas / t_ours:.2f}x", f"{flops / t_ours / 1e12:.1f}", f"{t_tf32 * 1e3:.2f}",
                                  f"{err_tf32:.1e} (f32: {err_f32:.1e})"]))
        print(rows[-1], flush=True)
        del x, out, a, b, bt
        cp.get_default_memory_pool().free_all_blocks()
    return "\n".join(rows)


def bench_lap(quick):
    rows = [markdown_header(["costs", "B", "n", "GPU ms", "CPU engine ms (all cores)", "scipy ms", "GPU vs CPU engine",
                             "GPU vs scipy", "goal", "objectives equal"])]
    cases = [(256, 256, "<= 5 ms"), (10000, 256, "<= 100 ms"), (100000, 64, "<= 50 ms"),
             (256, 512, "<= 30 ms"), (16, 1024, "-"), (1000, 128, ">= 20x CPU")]
    if quick:
        cases = [(256, 256, "<= 5 ms"), (2000, 256, "-"), (20000, 64, "-"), (256, 512, "<= 30 ms"), (16, 1024, "-")]
    for kind in ("uniform", "semantic"):
        for batch, n, goal in cases:
            if kind == "uniform":
                costs = cp.random.default_rng(5).random((batch, n, n), dtype=cp.float32)
            else:
                costs = semantic_batch(batch, n)
            host = costs.get()
            t_gpu = cuda_median_seconds(lambda: semrsm.solve(costs), repeats=5)
            gpu = semrsm.solve(costs).objective.get()
            # CPU engine on all cores: the whole batch unless large, then a scaled subset.
            sub_cpu = batch if batch * n * n <= 10000 * 256 * 256 else max(1000, batch // 10)
            cpu_res = [None]

            def run_cpu():
                cpu_res[0] = semrsm.solve(host[:sub_cpu]).objective
            t_cpu = median_seconds(run_cpu, repeats=3 if sub_cpu * n * n < 2e8 else 1) * batch / sub_cpu
            sub_sp = min(batch, max(4, int(2e6 / (n * n))) if n >= 256 else min(batch, 200))
            sp_obj = []

            def run_scipy():
                sp_obj.clear()
                for b in range(sub_sp):
                    r, c_ = scipy_lsa(host[b])
                    sp_obj.append(host[b].astype(np.float64)[r, c_].sum())
            t_sp = median_seconds(run_scipy, repeats=1) * batch / sub_sp
            equal_cpu = np.allclose(gpu[:sub_cpu], cpu_res[0], rtol=1e-9, atol=1e-6 * n)
            equal_sp = np.allclose(gpu[:sub_sp], sp_obj, rtol=1e-9, atol=1e-6 * n)
            note_cpu = "" if sub_cpu == batch else f" (scaled from {sub_cpu})"
            rows.append(markdown_row([kind, batch, n, f"{t_gpu * 1e3:.2f}", f"{t_cpu * 1e3:.1f}{note_cpu}",
                                      f"{t_sp * 1e3:.0f} (scaled from {sub_sp})", f"{t_cpu / t_gpu:.1f}x",
                                      f"{t_sp / t_gpu:.0f}x", goal, "yes" if equal_cpu and equal_sp else "NO"]))
            print(rows[-1], flush=True)
            del costs
            cp.get_default_memory_pool().free_all_blocks()
    return "\n".join(rows)


# (matcher, options, N, S, C, goal): the end-to-end goals and the approximations beside them.
RSM_CASES = [
    ("jv", {}, 1000, 196, 512, "< 5 s"),
    ("greedy", {}, 1000, 196, 512, "-"),
    ("topk_greedy", {"topk": 64}, 1000, 196, 512, "-"),
    ("batch_optimal", {"window": 128}, 1000, 3136, 256, "< 10 s"),
]


def bench_semantic_rsm(quick):
    """semrsm.semantic_rsm on CuPy features (the library path: chunks sized from free memory, cost
    blocks, LAPs, kernels on the GPU). A case whose estimate from N/5 samples exceeds two minutes is
    reported from that subset, scaled by pairs. Checked on 8 samples (28 pairs) against the CPU
    engine (same matcher) and the exact optimum (quality = objective / optimum)."""
    rows = [markdown_header(["matcher", "N", "S", "C", "pairs", "GPU", "CPU engine (estimate from 28 pairs)", "goal",
                             "quality median / min", "equal to CPU engine"])]
    for matcher, options, samples, s, c, goal in RSM_CASES:
        if quick:
            samples //= 5
        x = cp.asarray(features(samples, s, c, seed=3))
        pairs = samples * (samples - 1) // 2

        def run(count):
            return semrsm.semantic_rsm(x[:count], kernel="inner", layout="NSC", matcher=matcher, progress=False,
                                       **options)

        run(8)  # warm-up: kernels loaded, memory pool primed
        subset = max(8, samples // 5)
        t_sub = cuda_median_seconds(lambda: run(subset), repeats=1, warmup=0)
        estimate = t_sub * pairs / (subset * (subset - 1) // 2)
        if estimate < 120:
            t, scaled = cuda_median_seconds(lambda: run(samples), repeats=1, warmup=0), ""
        else:
            t, scaled = estimate, f" (scaled from {subset} samples)"
        xh = x[:8].get()
        got = run(8).get()
        t0 = time.perf_counter()
        cpu = semrsm.semantic_rsm(xh, kernel="inner", layout="NSC", matcher=matcher, progress=False, **options)
        t_cpu = (time.perf_counter() - t0) * pairs / 28
        exact = semrsm.semantic_rsm(xh, kernel="inner", layout="NSC", matcher="jv", progress=False)
        iu = np.triu_indices(8, 1)
        quality = got[iu] / exact[iu]
        equal = np.allclose(got[iu], cpu[iu], rtol=2e-5)
        option_text = ", ".join(f"{k} = {v}" for k, v in options.items())
        rows.append(markdown_row([matcher + (f" ({option_text})" if option_text else ""), samples, s, c, pairs,
                                  f"{t:.2f} s{scaled}", f"{t_cpu:.0f} s", goal,
                                  f"{np.median(quality):.4f} / {quality.min():.4f}", "yes" if equal else "NO"]))
        print(rows[-1], flush=True)
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches and N / 5 samples end to end")
    parser.add_argument("--out", default=None)
    parser.add_argument("--skip", default="", help="comma list of: cost,lap,rsm")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    parts = ["# CUDA engine benchmarks", "", *cupy_lines(), *machine_lines(), ""]
    print("\n".join(parts), flush=True)
    sections = [("cost", "Pair cost blocks vs cuBLAS", bench_cost_blocks),
                ("lap", "Batched exact LAP (float32)", bench_lap),
                ("rsm", "End to end: semantic RSMs of all pairs (semrsm.semantic_rsm on CuPy)", bench_semantic_rsm)]
    for name, title, bench in sections:
        if name in skip:
            continue
        parts += [f"## {title}", "", bench(args.quick), ""]
        if args.out:  # after every section, so that a run stopped later keeps what it measured
            with open(args.out, "w") as f:
                f.write("\n".join(parts) + "\n")
    parts.append(f"load average at the end {load_average()}")
    text = "\n".join(parts)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
