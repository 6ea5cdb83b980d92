"""Batch-Optimal: where the short window goes, measured as matching quality on semantic features.

Run:  python bench/bench_partial_window.py [--quick]

When the window k does not divide S, one window holds only S mod k ranks: at the end of the norm
ranking (``partial_window="smallest"``) or at its top (``"largest"``, the default, as in the
authors' code, Wald et al., NeurIPS 2024). Data: the ReLU features of bench/bench_semantic.py (a random conv net on
crops of the photographs bundled with scikit-image, C = 256). Quality: the Batch-Optimal objective
over the exact one for every distinct pair (1 is optimal), and the CKA of Batch-Optimal's cosine
RSM with the exact one. First the windows a user would pick (powers of two), then every window on a
grid of 24 from 4 to S - 1 that does not divide S, summarised.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np

import semrsm
from semrsm.datasets import semantic_features

SIDES = ("smallest", "largest")
#: S: samples (those of bench/bench_semantic.py at S = 3136)
SAMPLES = {49: 40, 196: 24, 784: 10, 3136: 12}


def quality(x, exact, window, side):
    upper = np.triu_indices(len(x), 1)
    approx = semrsm.semantic_rsm(x, kernel=["inner", "cosine"], matcher="batch_optimal", window=window,
                                 partial_window=side, progress=False)
    ratio = approx["inner"][upper] / exact["inner"][upper]
    return ratio, semrsm.cka(approx["cosine"], exact["cosine"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S = 49 and 196 only (S = 3136 takes a minute)")
    args = parser.parse_args()
    sizes = (49, 196) if args.quick else tuple(SAMPLES)
    print(f"# {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; numpy "
          f"{np.__version__}, semrsm {semrsm.__version__}\n")
    data = {}
    for S in sizes:
        x = semantic_features(SAMPLES[S], int(round(np.sqrt(S))), 256, seed=S)
        data[S] = x, semrsm.semantic_rsm(x, kernel=["inner", "cosine"], progress=False)

    print("| S | k | S mod k | short window at | objective ratio: mean | median | worst | CKA with exact |")
    print("|---|---|---|---|---|---|---|---|")
    for S in sizes:
        for k in (8, 16, 32, 64, 128, 256):
            if k >= S or S % k == 0:
                continue
            for side in SIDES:
                ratio, agreement = quality(*data[S], k, side)
                print(f"| {S} | {k} | {S % k} | {side} norms | {ratio.mean():.4f} | {np.median(ratio):.4f} | "
                      f"{ratio.min():.4f} | {agreement:.5f} |")

    print("\n| S | windows | mean ratio higher with \"largest\" | mean ratio, smallest / largest (median over k) "
          "| largest difference either way |")
    print("|---|---|---|---|---|")
    for S in sizes:
        windows = [k for k in sorted(set(np.linspace(4, S - 1, 24).astype(int))) if S % k]
        means = np.array([[quality(*data[S], int(k), side)[0].mean() for side in SIDES] for k in windows])
        gain = means[:, 1] - means[:, 0]
        print(f"| {S} | {len(windows)} | {int((gain > 0).sum())} | {np.median(means[:, 0]):.4f} / "
              f"{np.median(means[:, 1]):.4f} | +{gain.max():.4f} (k = {windows[int(gain.argmax())]}), "
              f"{gain.min():.4f} (k = {windows[int(gain.argmin())]}) |")


if __name__ == "__main__":
    main()
