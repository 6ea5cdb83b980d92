"""Large jobs (semrsm.run_job): what tiling, the store and Dask cost, side by side in one run.

Run:  python bench/bench_jobs.py [--n 1000] [--cluster-n 600] [--repeats 3] [--out FILE.md]

Data: ReLU features of a random conv net on crops of the photographs bundled with scikit-image
(semrsm.datasets.semantic_features), S = 49 positions, C = 64 channels, exact matcher.

1. A tiled job in this process (store included) against semantic_rsm in memory, alternating, medians;
   the results compared for equality.
2. A LocalCluster of 2 worker processes x 1 thread against 1 x 1, one engine thread per task, the
   same job (startup excluded): one core against two. (By default a task takes its worker's share
   of the host's cores, so on 2 cores the 1 x 1 cluster already uses both.)
3. Resume of a store whose ~1000 tiles are all done, with and without checking each tile's checksum.
4. A job killed (SIGKILL) halfway, then resumed: tiles computed again and the time of the resume
   against the whole job's.
Prints machine, load and versions first, then the tables in Markdown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np

import semrsm
from semrsm.datasets import semantic_features
from semrsm.jobs import open_rsm, run_job

from _common import load_average, machine_lines, median_time

KILLED = textwrap.dedent("""
    import sys
    import numpy as np
    from semrsm.jobs import run_job
    run_job(sys.argv[1], sys.argv[2], tile=int(sys.argv[3]), progress=False)
""")


def tiled_vs_memory(x, tile: int, repeats: int, folder: str) -> list:
    times = {"memory": [], "tiled": []}
    for k in range(repeats):
        start = time.perf_counter()
        reference = semrsm.semantic_rsm(x, kernel=["cosine", "rbf"], progress=False)
        times["memory"].append(time.perf_counter() - start)
        path = os.path.join(folder, f"tiled{k}.zarr")
        start = time.perf_counter()
        run_job(x, path, tile=tile, progress=False)
        got = open_rsm(path).kernel(["cosine", "rbf"])
        times["tiled"].append(time.perf_counter() - start)
        equal = all(np.array_equal(got[name], reference[name]) for name in got)
        shutil.rmtree(path)
    memory, tiled = np.median(times["memory"]), np.median(times["tiled"])
    n = len(x)
    return [f"| {n} | {tile} | {n * (n - 1) // 2} | {memory:.2f} | {tiled:.2f} | {100 * (tiled / memory - 1):+.1f} % "
            f"| {'yes' if equal else 'NO'} | {load_average()} |"]


def cluster_scaling(x, tile: int, folder: str) -> list:
    from distributed import Client, LocalCluster

    np.save(os.path.join(folder, "x.npy"), x)
    seconds = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            path = os.path.join(folder, f"cluster{workers}.zarr")
            start = time.perf_counter()
            run_job(os.path.join(folder, "x.npy"), path, tile=tile, client=client, threads=1, progress=False)
            seconds[workers] = time.perf_counter() - start
            shutil.rmtree(path)
    n = len(x)
    return [f"| {n} | {tile} | {seconds[1]:.2f} | {seconds[2]:.2f} | {seconds[1] / seconds[2]:.2f}x | {load_average()} |"]


def resume_all_done(folder: str) -> list:
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((1000, 4, 8)), 0).astype(np.float32)
    path = os.path.join(folder, "done.zarr")
    run_job(x, path, tile=23, matcher="greedy", progress=False)  # 44 x 44 tiles, 990 in the upper triangle
    tiles = len(open_rsm(path).store.grid.tiles())
    rows = []
    for verify in (False, True):
        seconds, report = median_time(lambda: run_job(x, path, tile=23, matcher="greedy", progress=False,
                                                      verify=verify), 3)
        assert report.computed == []
        rows.append(f"| {tiles} | {'yes' if verify else 'no'} | {seconds:.3f} | {load_average()} |")
    return rows


def kill_and_resume(x, tile: int, folder: str) -> list:
    source = os.path.join(folder, "x.npy")
    np.save(source, x)
    script = os.path.join(folder, "killed.py")
    with open(script, "w") as out:
        out.write(KILLED)
    whole_path = os.path.join(folder, "whole.zarr")
    start = time.perf_counter()
    whole = run_job(source, whole_path, tile=tile, progress=False)
    whole_seconds = time.perf_counter() - start
    path = os.path.join(folder, "killed.zarr")
    process = subprocess.Popen([sys.executable, script, source, path, str(tile)])
    time.sleep(whole_seconds / 2 + 0.7)  # past the import, about half the tiles
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_at_kill = open_rsm(path).progress[0]
    start = time.perf_counter()
    report = run_job(source, path, tile=tile, progress=False)
    resume_seconds = time.perf_counter() - start
    equal = np.array_equal(open_rsm(path).kernel("cosine"), open_rsm(whole_path).kernel("cosine"))
    return [f"| {len(x)} | {tile} | {whole.tiles} | {whole_seconds:.2f} | {done_at_kill} | {len(report.computed)} | "
            f"{resume_seconds:.2f} | {'yes' if equal else 'NO'} | {load_average()} |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="samples of the tiled-vs-memory job (default 1000)")
    parser.add_argument("--tile", type=int, default=250)
    parser.add_argument("--cluster-n", type=int, default=600)
    parser.add_argument("--cluster-tile", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="memory,cluster,resume,kill", help="which of the four to run")
    parser.add_argument("--out", help="also write the Markdown here")
    args = parser.parse_args()
    warnings.simplefilter("ignore", semrsm.UnreliableResultWarning)  # photo crops with an all-zero map
    lines = machine_lines(["dask", "distributed", "zarr"])
    print("\n".join(lines), flush=True)
    x = semantic_features(max(args.n, args.cluster_n), 7, 64)
    folder = tempfile.mkdtemp(prefix="semrsm-bench-jobs-")
    try:
        parts = set(args.parts.split(","))
        out = list(lines)
        if "memory" in parts:
            out += ["", "Tiled job in this process vs semantic_rsm in memory (exact, S = 49, C = 64; s, medians of "
                    f"{args.repeats}, alternating; kernels cosine and rbf included in both)", "",
                    "| N | tile | pairs | in memory s | tiled job s | overhead | equal | load |",
                    "|---|---|---|---|---|---|---|---|"]
            out += tiled_vs_memory(x[:args.n], args.tile, args.repeats, folder)
        if "cluster" in parts:
            out += ["", "LocalCluster, 1 worker x 1 thread vs 2 workers x 1 thread, 1 engine thread per task "
                    "(startup excluded)", "", "| N | tile | 1 x 1 s | 2 x 1 s | speed-up | load |",
                    "|---|---|---|---|---|---|"]
            out += cluster_scaling(x[:args.cluster_n], args.cluster_tile, folder)
        if "resume" in parts:
            out += ["", "Resume of a store whose tiles are all done (N = 1000, tile 23; medians of 3)", "",
                    "| tiles | checksums checked | s | load |", "|---|---|---|---|"]
            out += resume_all_done(folder)
        if "kill" in parts:
            out += ["", "SIGKILL about halfway, then resume (exact, S = 49, C = 64)", "",
                    "| N | tile | tiles | whole job s | done at kill | computed on resume | resume s | equal | load |",
                    "|---|---|---|---|---|---|---|---|---|"]
            out += kill_and_resume(x[:args.cluster_n], 60, folder)
        print("\n".join(out[len(lines):]), flush=True)
        if args.out:
            with open(args.out, "w") as file:
                file.write("\n".join(out) + "\n")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
