"""Peak memory that one semantic_rsm call adds, against its max_memory (bench/RESULTS.md, section 6).

    python bench/peak_memory.py --n 3000 --s 49 --c 64 --matcher greedy --kernels cosine --budget-mib 150

prints one JSON line: the budget and the peak resident memory the call added (``--least``: the least
budget the model takes, from its own refusal, in a process of its own so that the refused call's
work is not counted in the measured one). A fresh process each time (the peak of a process only
grows); the test of the promise, tests/test_semantic_memory.py, runs it so. The samples are float32
in [0, 1), resident before, and a call on 8 of them comes first, so that imports and threads are
not counted.

The peak is the process's VmHWM (Linux, /proc/self/status), reset just before the call by writing
5 to /proc/self/clear_refs, minus its VmRSS then: getrusage's ru_maxrss would start at the resident
size of the process that started this one (Linux keeps the larger across exec). Elsewhere
ru_maxrss, before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys

import numpy as np

import semrsm

STATUS = "/proc/self/status"


def _status(field: str) -> int:
    with open(STATUS) as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))


def _peak() -> int:
    if os.path.exists(STATUS):
        return _status("VmHWM:")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def _reset_peak() -> int:
    """Start the peak afresh where the system allows it; the resident size to measure from."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass
    return _status("VmRSS:") if os.path.exists(STATUS) else _peak()


def least_budget(x, options: dict) -> int:
    """The least max_memory the model takes for this call, read from its own refusal."""
    try:
        semrsm.semantic_rsm(x, max_memory=1, **options)
    except ValueError as exc:
        found = re.search(r"need at least (\d+)", str(exc))
        if found:
            return int(found.group(1))
        raise
    raise ValueError("max_memory=1 was accepted")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--s", type=int, default=4)
    parser.add_argument("--c", type=int, default=8)
    parser.add_argument("--matcher", default="greedy")
    parser.add_argument("--kernels", default="cosine", help="comma-separated")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--budget", type=int, help="max_memory in bytes: measure the call's peak")
    what.add_argument("--budget-mib", type=float, help="the same in MiB")
    what.add_argument("--least", action="store_true", help="print the least budget the model takes")
    args = parser.parse_args(argv)
    options = dict(kernel=args.kernels.split(","), matcher=args.matcher, progress=False)
    x = np.random.default_rng(0).random((args.n, args.s, args.c), dtype=np.float32)
    if args.least:
        print(json.dumps({"least": least_budget(x, options)}))
        return 0
    budget = args.budget if args.budget is not None else int(args.budget_mib * 2 ** 20)
    semrsm.semantic_rsm(x[:8], **options)  # imports, threads, first allocations
    before = _reset_peak()
    semrsm.semantic_rsm(x, max_memory=budget, **options)
    print(json.dumps({"n": args.n, "S": args.s, "C": args.c, "matcher": args.matcher, "kernels": args.kernels,
                      "budget": budget, "added": _peak() - before}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
