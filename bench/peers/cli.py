"""The command line of bench/gpu_peers.py: fetch the sdists, or build them and run the comparison."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import machine_lines, nvidia_smi

from .adapters import RTOL, SOLVERS
from .build import build
from .fetch import fetch
from .report import build_report, markdown, versions
from .worker import case_key, run_solver, work

DESCRIPTION = "Batched GPU LAP peers against semrsm.solve: the same float32 costs, one run, one table."

#: (B, n) of the comparison; every problem is n x n.
SIZES = [(256, 256), (10000, 256), (100000, 64), (256, 512), (16, 1024)]
KINDS = ("uniform", "semantic")

#: Where the peers are installed (pip --target) and imported from; build/ is not tracked.
SITE = Path(__file__).resolve().parents[2] / "build" / "gpu-peers"


def main(argv=None):
    """Command line: fetch the sdists (``--fetch``), or build them and run the comparison."""
    parser = argparse.ArgumentParser(prog="bench/gpu_peers.py", description=DESCRIPTION)
    parser.add_argument("--fetch", metavar="DIR", help="download the peers' sdists into DIR and stop")
    parser.add_argument("--spec", action="append", help="with --fetch: requirement(s) instead of the pinned ones")
    parser.add_argument("--sdists", metavar="DIR", help="folder of the fetched sdists, built first")
    parser.add_argument("--site", default=str(SITE),
                        help="install the peers here (pip --target) and import them from here")
    parser.add_argument("--rebuild", action="store_true", help="build even if --site holds a build")
    parser.add_argument("--peers", default=",".join(SOLVERS),
                        help=f"comma list of solvers to run (default all: {','.join(SOLVERS)})")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--sizes", default=",".join(f"{b}x{n}" for b, n in SIZES), help="comma list of BxN")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=2.0,
                        help="time one run only when a timed run takes longer than this")
    parser.add_argument("--slow-seconds", type=float, default=20.0,
                        help="when the warm-up call takes longer, report it alone and skip harder cases of that solver")
    parser.add_argument("--case-timeout", type=float, default=120.0, help="seconds before a case counts as hung")
    parser.add_argument("--budget", type=float, help="seconds for the whole run (builds included): cases not "
                        "started by then are reported as not run")
    parser.add_argument("--build-only", action="store_true", help="with --sdists: build (or reuse) and stop")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="cpu: plumbing check only (semrsm on NumPy, torch-linear-assignment's SciPy path)")
    parser.add_argument("--out", help="also write the markdown here")
    parser.add_argument("--log", help="write the workers' output here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--cases", help=argparse.SUPPRESS)
    parser.add_argument("--refdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        return work(args.worker, args.cases.split(","), args.refdir, args.device, args.repeats, args.max_seconds,
                    args.slow_seconds, args.deadline)
    if args.fetch:
        for spec, where in fetch(args.fetch, args.spec).items():
            print(f"{spec}: {where}")
        return 0

    solvers = [s for s in args.peers.split(",") if s]
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown:
        parser.error(f"unknown solver(s) {unknown}; choose from {list(SOLVERS)}")
    if "semrsm" not in solvers:
        solvers.insert(0, "semrsm")  # the reference the others are checked against
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]
    cases = [case_key(k, b, n) for k in args.kinds.split(",") if k for b, n in sizes]

    deadline = time.time() + args.budget if args.budget else None
    machine = machine_lines()  # before the builds: the load average of the machine as found
    print("\n".join(machine), flush=True)
    parts = ["# Batched GPU LAP: semrsm against its GPU peers", ""]
    if args.sdists:
        built = build(args.sdists, args.site, rebuild=args.rebuild)
    else:  # what an earlier call built there, if anything
        built = {}
        for record in sorted(Path(args.site, ".gpu_peers").glob("*.json")):
            rec = json.loads(record.read_text())
            built[rec["dist"]] = dict(rec, reused=True)
    if built:
        parts += ["## Peers' builds", "", *build_report(built), ""]
        print("\n".join(parts), flush=True)
    if args.build_only:
        return 0 if built and all(rec.get("ok") for rec in built.values()) else 1

    parts += [f"- GPU: {nvidia_smi()}" if args.device == "cuda" else "- device: CPU (plumbing check, not a benchmark)",
              *machine,
              "- versions: " + ", ".join(f"{k} {v}" for k, v in versions(args.site).items()),
              f"- float32 costs; times: median of {args.repeats} after a warm-up "
              f"(CUDA events around the whole call), '(x)' = that solver's time over semrsm's; objectives in "
              f"float64 from the returned columns, equal = within {RTOL:g} relative on every problem", ""]

    results = {}
    log = open(args.log, "w") if args.log else None  # noqa: SIM115
    try:
        with tempfile.TemporaryDirectory(prefix="gpu-peers-ref-") as refdir:
            for solver in solvers:
                print(f"[{solver}] {len(cases)} cases ...", flush=True)
                t0 = time.perf_counter()
                if deadline and time.time() > deadline:  # what its worker would say, without starting one
                    results[solver] = {key: {"case": key, "status": "skipped", "why": "not run: --budget used up"}
                                       for key in cases}
                    continue
                results[solver] = run_solver(solver, cases, refdir, site=args.site, device=args.device,
                                             repeats=args.repeats, max_seconds=args.max_seconds,
                                             slow_seconds=args.slow_seconds, case_timeout=args.case_timeout,
                                             deadline=deadline, log=log)
                for key in cases:
                    r = results[solver].get(key, {})
                    ok = r.get("status") == "ok"
                    what = f"{r['median_ms']:.2f} ms" if ok else f"skipped: {r.get('why', '?')[:200]}"
                    print(f"[{solver}] {key}: {what}", flush=True)
                print(f"[{solver}] done in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        if log:
            log.close()
    table, notes = markdown(results, solvers, cases, args.repeats)
    parts += [table, ""]
    if notes:
        parts += ["Skipped:", ""] + [f"{i}. {n[2:]}" for i, n in enumerate(notes, 1)] + [""]
    text = "\n".join(parts)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0
