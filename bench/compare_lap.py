"""Single LAPs and batches: semrsm's exact methods against scipy and the peer solvers that import
here, side by side on the same problems in one run. Prints markdown tables for bench/RESULTS.md.

    python bench/compare_lap.py [--quick | --sizes 49 196 784 3136] [--kinds uniform normal semantic]

Peers: pip install lap lapjv ortools fastlap (and lapx in an environment of its own: it installs a
module named 'lap' too; run this script there again and it reports lapx under its own name).
"""

from __future__ import annotations

import argparse
import time

from scipy.optimize import linear_sum_assignment as scipy_lsa

import semrsm
from semrsm.benchmarking import compare_solvers

from _common import load_average, machine_lines, markdown_table, median_seconds
from lap_peers import PEER_DISTRIBUTIONS, available_solvers, problems

# problems per size, and timing repeats per problem: fewer where scipy takes seconds
PLAN = {49: (20, 5), 196: (10, 3), 784: (4, 1), 3136: (1, 1)}
QUICK_SIZES = [49, 196]


def single_problems(sizes, kinds, slow_peers_up_to):
    solvers = available_solvers()
    rows = []
    for n in sizes:
        count, repeats = PLAN[n]
        for kind in kinds:
            batch = problems(kind, n, count, seed=n)
            chosen = {k: f for k, f in solvers.items()
                      if n <= slow_peers_up_to or k.startswith("semrsm") or k in ("scipy", "ortools")}
            for row in compare_solvers(chosen, batch, repeats=repeats):
                rows.append({"kind": kind, "n": n, **row})
                print(f"{kind:9s} n={n:5d} {row['solver']:14s} {row['ms']:10.3f} ms  x{row['speedup']:.2f}",
                      flush=True)
    return rows


def batches(kinds):
    rows = []
    for batch_size, n in ((2000, 49), (500, 196)):
        for kind in kinds:
            costs = problems(kind, n, batch_size, seed=batch_size)
            candidates = {"scipy loop": lambda: [scipy_lsa(c) for c in costs]}
            for method in ("auto", "jv", "hybrid"):
                candidates[f"semrsm.solve {method}"] = lambda m=method: semrsm.solve(costs, method=m)
            try:
                import fastlap
                candidates["fastlap.solve_lap_batch"] = lambda: fastlap.solve_lap_batch(costs)
            except ImportError:
                pass
            try:
                import lap
                if hasattr(lap, "lapjvx_batch"):  # lapx
                    candidates["lapx.lapjvx_batch"] = lambda: lap.lapjvx_batch(costs)
            except ImportError:
                pass
            times = {name: median_seconds(call, repeats=3) for name, call in candidates.items()}
            for name, seconds in times.items():
                rows.append({"kind": kind, "B": batch_size, "n": n, "solver": name, "s": seconds,
                             "per_s": batch_size / seconds, "speedup": times["scipy loop"] / seconds})
                print(f"batch {kind:9s} B={batch_size} n={n} {name:24s} {seconds:.3f} s x{times['scipy loop'] / seconds:.2f}",
                      flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"sizes {' and '.join(map(str, QUICK_SIZES))} only (every kind, batches included)")
    parser.add_argument("--sizes", type=int, nargs="+", choices=sorted(PLAN), default=sorted(PLAN))
    parser.add_argument("--kinds", nargs="+", default=["uniform", "normal", "semantic"])
    parser.add_argument("--slow-peers-up-to", type=int, default=784,
                        help="largest n for peers that take many seconds (JV family on semantic costs)")
    parser.add_argument("--no-batches", action="store_true")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else args.sizes
    print("# LAP solvers side by side\n")
    print("\n".join(machine_lines(PEER_DISTRIBUTIONS)) + "\n", flush=True)
    start = time.time()
    rows = single_problems(sizes, args.kinds, args.slow_peers_up_to)
    print("\n## Single problems: median ms per problem (speed-up over scipy in the same run)\n")
    print(markdown_table(rows, [("kind", "costs", ""), ("n", "n", "d"), ("solver", "solver", ""),
                          ("ms", "ms", ".3f"), ("speedup", "vs scipy", ".2f"), ("excess", "obj. excess", ".0e")]))
    if not args.no_batches:
        brows = batches(args.kinds)
        print("\n## Batches: median seconds per batch (2 threads where the solver batches)\n")
        print(markdown_table(brows, [("kind", "costs", ""), ("B", "B", "d"), ("n", "n", "d"), ("solver", "solver", ""),
                               ("s", "s", ".3f"), ("per_s", "problems/s", ".0f"), ("speedup", "vs scipy loop", ".2f")]))
    print(f"\n(total {time.time() - start:.0f} s; load average at the end {load_average()})")


if __name__ == "__main__":
    main()
