"""``semrsm bench-lap``: every method of the LAP engine against scipy on a built-in set of problems."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment as scipy_lsa

from ..benchmarking import compare_solvers, format_table
from ..datasets import semantic_costs
from ..lap import METHODS, linear_sum_assignment
from ._common import UserError

HELP = ("solve built-in LAPs (random and semantic costs from real photographs) with every method; "
        "check against scipy and print times and speed-ups")


def add_arguments(parser):
    parser.add_argument("--sizes", type=int, nargs="+", default=[49, 196],
                        help="problem sizes n (square numbers, positions of a feature map; default 49 196)")
    parser.add_argument("--count", type=int, default=8, help="problems per size and kind (default 8)")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    if args.count < 1:
        raise UserError("--count must be at least 1")
    wrong = [n for n in args.sizes if n < 1 or round(n ** 0.5) ** 2 != n]
    if wrong:
        raise UserError(f"--sizes {wrong[0]}: sizes are positions of a square feature map, square numbers >= 1 "
                        f"(49, 196, 784 ...)")
    solvers = {"scipy": lambda c: scipy_lsa(c)[1]}
    for method in METHODS:
        solvers[method] = lambda c, method=method: linear_sum_assignment(c, method=method)[1]
    rows = []
    rng = np.random.default_rng(args.seed)
    for n in args.sizes:
        kinds = {"uniform": rng.random((args.count, n, n), dtype=np.float32),
                 "semantic": semantic_costs(args.count, n, channels=128, seed=args.seed)}
        for kind, problems in kinds.items():
            for row in compare_solvers(solvers, problems):
                rows.append({"kind": kind, "n": n, **row})
    print(format_table(rows, [("kind", "costs", ""), ("n", "n", "d"), ("solver", "method", ""),
                              ("ms", "ms/problem", ".3f"), ("speedup", "vs scipy", ".2f"),
                              ("excess", "objective excess", ".1e")]))
    print("\nobjective excess: (objective - scipy's) / mean row cost; 0 for exact methods, and the "
          "approximation error of auction and greedy.")
    return 0
