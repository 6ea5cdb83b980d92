"""``semrsm.linear_sum_assignment`` timed in two installs side by side: the same problems solved by each
interpreter given, in interleaved rounds (a, b, a, b, ...), so that a change of load hits both alike;
medians over the rounds of the mean time per problem, and their ratio (second / first).

    python bench/lap_before_after.py --python BASE/bin/python --python NEW/bin/python [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from _common import load_average

CASES = [(kind, n) for n in (49, 196, 784) for kind in ("uniform", "normal")]
PROBLEMS = {49: 400, 196: 40, 784: 4}  # distinct problems per timing, about 0.1-0.3 s each

TIMER = r"""
import json, sys, time
import numpy as np
import semrsm
kind, n, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(n)
draw = rng.random if kind == "uniform" else rng.standard_normal
problems = [draw((n, n)) for _ in range(count)]
semrsm.linear_sum_assignment(problems[0])  # warm: the engine's scratch, the import
start = time.perf_counter()
for costs in problems:
    semrsm.linear_sum_assignment(costs)
print(json.dumps((time.perf_counter() - start) / count))
"""


def time_once(python: str, kind: str, n: int) -> float:
    out = subprocess.run([python, "-c", TIMER, kind, str(n), str(PROBLEMS[n])], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", required=True, help="an interpreter with semrsm installed")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if len(args.python) != 2:
        parser.error("give --python twice: the baseline, then the install to compare")
    print(f"load average at the start: {load_average()}", file=sys.stderr)
    print("| costs | n | before (ms) | after (ms) | after / before |")
    print("|---|---|---|---|---|")
    for kind, n in CASES:
        times = [[], []]
        for _ in range(args.rounds):
            for k, python in enumerate(args.python):
                times[k].append(time_once(python, kind, n))
        before, after = (statistics.median(t) * 1e3 for t in times)
        print(f"| {kind} | {n} | {before:.3f} | {after:.3f} | {after / before:.2f} |", flush=True)
    print(f"load average at the end: {load_average()}", file=sys.stderr)


if __name__ == "__main__":
    main()
