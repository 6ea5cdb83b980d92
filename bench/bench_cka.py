"""CKA benchmarks: semrsm's linear CKA against the usual Gram-matrix code, minibatch CKA throughput,
and Kornblith et al.'s sanity check (layer identification across networks) for every measure.

    python bench/bench_cka.py [--quick] [--cupy] [--skip-speed] [--skip-sanity] [--repeats R]

Linear CKA: ``semrsm.linear_cka`` (``method="auto"``: feature space when D <= N, Gram matrices
when D > N; also each path forced) against the naive baseline, the code published with Kornblith
et al. (2019): ``cka(gram_linear(X), gram_linear(Y))``, which always builds and centres both N x N
Gram matrices. Both get the same float32 activations and compute in float64; their results are
checked to agree in the run. Minibatch CKA: ``semrsm.MinibatchCKA`` over every pair of layers of
two networks, against a loop over pairs that builds and U-centres both Gram matrices for each
pair (what a per-pair call of debiased CKA costs). Times are medians of R runs (wall clock; CuPy
runs end in a device synchronisation, since every result is a host float). Peak memory: the
largest total of NumPy allocations during one more call of each, traced with tracemalloc (not
timed; the float32 inputs themselves are not counted). ``--cupy`` runs all of it on CuPy arrays
on the GPU.

Sanity check (section 6.1 of the paper): tanh MLPs trained from different random seeds on
scikit-learn's digits (bench/layer_identification.py); for each layer of each network
and each other network, is the most similar layer of the other network the one at the same depth?
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import semrsm
from semrsm._backend import array_module

from _common import cupy_lines, load_average, machine_lines, markdown_header, markdown_row, median_time
from layer_identification import digits_split, identification_accuracy, train_tanh_mlp


# ---------------------------------------------------------------------------------------------
# The baseline: Kornblith et al.'s published code (gram_linear, center_gram, cka), NumPy or CuPy


def naive_gram_linear(x, xp):
    x = xp.asarray(x, dtype=xp.float64).reshape(x.shape[0], -1)
    return x @ x.T


def naive_center_gram(gram, unbiased, xp):
    gram = gram.copy()
    n = gram.shape[0]
    if unbiased:
        xp.fill_diagonal(gram, 0)
        means = xp.sum(gram, 0) / (n - 2)
        means -= xp.sum(means) / (2 * (n - 1))
    else:
        means = xp.mean(gram, 0)
        means -= xp.mean(means) / 2
    gram -= means[:, None]
    gram -= means[None, :]
    if unbiased:
        xp.fill_diagonal(gram, 0)
    return gram


def naive_linear_cka(x, y, debiased=False):
    xp = array_module(x, y)
    gx = naive_center_gram(naive_gram_linear(x, xp), debiased, xp)
    gy = naive_center_gram(naive_gram_linear(y, xp), debiased, xp)
    return float(gx.ravel() @ gy.ravel() / (xp.linalg.norm(gx) * xp.linalg.norm(gy)))


def naive_minibatch(batches_a, batches_b):
    """Per pair of layers and per batch: both Gram matrices built and U-centred again."""
    xp = array_module(batches_a[0][0])
    la, lb = len(batches_a[0]), len(batches_b[0])
    xy, xx, yy = np.zeros((la, lb)), np.zeros((la, lb)), np.zeros((la, lb))
    for layers_a, layers_b in zip(batches_a, batches_b):
        n = layers_a[0].shape[0]
        for i in range(la):
            for j in range(lb):
                gx = naive_center_gram(naive_gram_linear(layers_a[i], xp), True, xp)
                gy = naive_center_gram(naive_gram_linear(layers_b[j], xp), True, xp)
                scale = 1.0 / (n * (n - 3))
                xy[i, j] += float(gx.ravel() @ gy.ravel()) * scale
                xx[i, j] += float(gx.ravel() @ gx.ravel()) * scale
                yy[i, j] += float(gy.ravel() @ gy.ravel()) * scale
    return xy / np.sqrt(xx * yy)


# ---------------------------------------------------------------------------------------------
# Timing and data


def peak_memory_mib(fn) -> float:
    """Peak of NumPy's allocations during one call (tracemalloc), MiB; NaN for CuPy arrays."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def activations(n, d, seed, xp):
    """float32 (N, D) activations and a related second representation (a shuffled, noisy copy)."""
    rng = np.random.default_rng(seed)
    x = np.abs(rng.standard_normal((n, d), dtype=np.float32))
    y = x[:, rng.permutation(d)] + 0.5 * rng.standard_normal((n, d), dtype=np.float32)
    return xp.asarray(x), xp.asarray(y)


# ---------------------------------------------------------------------------------------------
# Benchmarks


def bench_linear_cka(xp, repeats, quick):
    cases = [(2000, 512, 2000, 10_000)] if quick else [(10_000, 2048, 2000, 50_000)]
    print("\n## Linear CKA: semrsm against the naive Gram-matrix code, same run\n")
    memory = xp is np
    print(markdown_header(["N", "D", "semrsm path", "debiased", "semrsm (s)", "naive Gram (s)", "naive / semrsm",
                           "|semrsm - naive|"] + (["semrsm peak MiB", "naive peak MiB"] if memory else [])))
    for n_a, d_a, n_b, d_b in cases:
        for n, d, seed in ((n_a, d_a, 0), (n_b, d_b, 1)):
            x, y = activations(n, d, seed, xp)
            # D x D float64 products need 8 D^2 bytes each: the feature path is not run past 20k
            methods = ["auto", "gram"] if 2 * d < n else ["auto"] + (["features"] if d <= 20_000 else [])
            for debiased in (False, True):
                naive_s, naive_v = median_time(lambda: naive_linear_cka(x, y, debiased), repeats)
                naive_mib = peak_memory_mib(lambda: naive_linear_cka(x, y, debiased)) if memory else 0
                for method in methods:
                    ours_s, ours_v = median_time(lambda: semrsm.linear_cka(x, y, debiased, method), repeats)
                    path = method if method != "auto" else ("auto = features" if 2 * d < n else "auto = Gram")
                    row = [f"{n:,}", f"{d:,}", path, "yes" if debiased else "no", f"{ours_s:.3f}",
                           f"{naive_s:.3f}", f"{naive_s / ours_s:.2f}x", f"{abs(ours_v - naive_v):.1e}"]
                    if memory:
                        ours_mib = peak_memory_mib(lambda: semrsm.linear_cka(x, y, debiased, method))
                        row += [f"{ours_mib:,.0f}", f"{naive_mib:,.0f}"]
                    print(markdown_row(row), flush=True)
                    assert abs(ours_v - naive_v) < 1e-9, (ours_v, naive_v)
            del x, y


def bench_minibatch(xp, repeats, quick):
    print("\n## Minibatch CKA: every pair of layers of two networks, accumulated over batches\n")
    print(markdown_header(["layers", "D per layer", "batch", "batches", "semrsm (samples/s)",
                           "per-pair loop (samples/s)", "ratio"]))
    configs = [(1, 2048, 512, 4), (6, 1024, 512, 4)] if not quick else [(1, 512, 256, 2), (4, 256, 256, 2)]
    for layers, d, batch, count in configs:
        rng = np.random.default_rng(layers)
        batches_a = [[xp.asarray(rng.standard_normal((batch, d), dtype=np.float32)) for _ in range(layers)]
                     for _ in range(count)]
        batches_b = [[a + xp.asarray(rng.standard_normal((batch, d), dtype=np.float32)) for a in layer_list]
                     for layer_list in batches_a]

        def ours():
            acc = semrsm.MinibatchCKA()
            for a, b in zip(batches_a, batches_b):
                acc.update(a if layers > 1 else a[0], b if layers > 1 else b[0])
            return np.atleast_2d(acc.compute())

        ours_s, ours_v = median_time(ours, repeats)
        naive_s, naive_v = median_time(lambda: naive_minibatch(batches_a, batches_b), max(1, repeats // 2))
        assert np.allclose(ours_v, naive_v, atol=1e-9)
        samples = batch * count
        print(markdown_row([f"{layers} x {layers}", f"{d:,}", batch, count, f"{samples / ours_s:,.0f}",
                            f"{samples / naive_s:,.0f}", f"{naive_s / ours_s:.1f}x"]), flush=True)


def bench_sanity(nets: int, depths, width: int):
    measures = [("linear_cka", {}), ("rbf_cka", {"threshold": 0.4}), ("rbf_cka", {"threshold": 0.8}),
                ("linear_cka", {"debiased": True}), ("mean_rho_cca", {}), ("mean_r2_cca", {}),
                ("svcca", {}), ("pwcca", {}), ("r2_lr", {})]
    print(f"\n## Sanity check: layer identification across {nets} tanh MLPs (width {width}) trained on "
          f"digits from different seeds\n")
    print(markdown_header(["measure"] + [f"depth {d}" for d in depths]))
    x_train, y_train, x_test = digits_split()
    reps = {}
    for depth in depths:
        start = time.perf_counter()
        reps[depth] = [train_tanh_mlp(x_train, y_train, [width] * depth, seed=s)(x_test) for s in range(nets)]
        print(f"<!-- trained {nets} networks of depth {depth} in {time.perf_counter() - start:.1f} s -->")
    for measure, options in measures:
        name = measure + "".join(f", {k}={v}" for k, v in options.items())
        cells = []
        for depth in depths:
            accuracy = identification_accuracy(reps[depth], measure, **options)
            cells.append(f"{100 * accuracy:.1f}%")
        print(markdown_row([name, *cells]), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--cupy", action="store_true", help="run on CuPy arrays on the GPU")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-sanity", action="store_true")
    parser.add_argument("--nets", type=int, default=10, help="networks in the sanity check")
    args = parser.parse_args(argv)
    if args.cupy:
        import cupy as xp
    else:
        xp = np
    print("# semrsm CKA benchmarks\n")
    print("\n".join(machine_lines(["threadpoolctl", "scikit-learn"]) + (cupy_lines() if args.cupy else [])))
    if not args.skip_speed:
        bench_linear_cka(xp, args.repeats, args.quick)
        bench_minibatch(xp, args.repeats, args.quick)
    if not args.skip_sanity:
        bench_sanity(3 if args.quick else args.nets, (5,) if args.quick else (5, 8), 128)
    print(f"\nload average at the end {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
