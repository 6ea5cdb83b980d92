"""What every benchmark in bench/ shares: the description of the machine it ran on, median timers
(wall clock on the CPU, CUDA events on the GPU) and markdown tables.

Each script prints :func:`machine_lines` before its first measurement, so that the numbers it
writes can be quoted in bench/RESULTS.md with the CPU, the load average at the start, the versions
and the commit they were measured at. The wall-clock median is
:func:`semrsm.benchmarking.median_seconds`, the one ``semrsm bench-lap`` uses.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import scipy

import semrsm
from semrsm.benchmarking import median_seconds

try:
    from threadpoolctl import threadpool_info
except ImportError:  # optional: without it the BLAS line says "unknown"
    threadpool_info = None

__all__ = ["cuda_event_seconds", "cuda_median_seconds", "cuda_synchronize", "cupy_lines", "load_average",
           "machine_lines", "markdown_header", "markdown_row", "markdown_table", "median_seconds",
           "median_time", "nvidia_smi", "package_versions"]

BENCH = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------------------
# The machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``os.getloadavg()`` reads them now."""
    return "{:.2f}, {:.2f}, {:.2f} (1, 5, 15 min)".format(*os.getloadavg())


def git_commit() -> str:
    """The short commit of the checkout bench/ lies in, with a mark when tracked files differ."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=BENCH, timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit or "unknown") + (" with uncommitted changes" if dirty else "")


def package_versions(names: Iterable[str], paths: Sequence[str] = None) -> dict:
    """Distribution name -> version for those of ``names`` installed (looked up in ``paths``, by
    default sys.path), read from their metadata without importing them."""
    where = {"path": list(paths)} if paths else {}
    out = {}
    for name in names:
        dist = next(iter(importlib.metadata.distributions(name=name, **where)), None)
        if dist is not None:
            out[dist.metadata["Name"]] = dist.version
    return out


def blas() -> str:
    if threadpool_info is None:
        return "unknown (threadpoolctl not installed)"
    found = [f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
             for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(found) or "unknown"


def machine_lines(packages: Iterable[str] = ()) -> list:
    """Markdown bullets describing this machine and software: CPU model, logical and usable
    cores, the load average now, Python, NumPy, SciPy, BLAS, semrsm (its engines and the commit
    of this checkout), and the versions of ``packages`` that are installed."""
    engines = semrsm.backends()
    cuda = engines["cuda"]
    cuda_text = ("available on " + ", ".join(cuda["devices"]) if cuda["available"] else
                 "compiled in, not usable here" if cuda["compiled"] else "not compiled in")
    lines = [f"- CPU: {cpu_model()}, {os.cpu_count()} logical CPUs ({len(os.sched_getaffinity(0))} usable); "
             f"load average {load_average()}",
             f"- Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
             f"BLAS: {blas()}",
             f"- semrsm {semrsm.__version__} at commit {git_commit()}; CPU engine {engines['cpu']['threads']} "
             f"threads, CUDA engine {cuda_text}"]
    others = package_versions(packages)
    if others:
        lines.append("- " + ", ".join(f"{k} {v}" for k, v in others.items()))
    return lines


def nvidia_smi() -> str:
    """Name, driver and top SM clock of each GPU, from nvidia-smi ('n/a' without one)."""
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "n/a"


def cupy_lines() -> list:
    """Markdown bullets describing CuPy's current GPU and the CUDA versions in play."""
    import cupy as cp

    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    cuda = semrsm.backends()["cuda"]
    return [f"- GPU: {props['name'].decode()} ({props['multiProcessorCount']} SMs), nvidia-smi: {nvidia_smi()}",
            f"- CUDA driver {cp.cuda.runtime.driverGetVersion()}, CuPy runtime {cp.cuda.runtime.runtimeGetVersion()}, "
            f"semrsm built with runtime {cuda['runtime_version']}; CuPy {cp.__version__}"]


# ---------------------------------------------------------------------------------------------
# Timers


def median_time(call: Callable[[], object], repeats: int):
    """(median wall seconds of ``repeats`` calls, what the last call returned)."""
    last = [None]

    def keep():
        last[0] = call()

    return median_seconds(keep, repeats=repeats), last[0]


def cuda_synchronize(library: str = "cupy") -> None:
    """Wait for all work on the GPU; ``library`` is 'cupy' or 'torch'."""
    if library == "torch":
        import torch

        torch.cuda.synchronize()
    else:
        import cupy as cp

        cp.cuda.runtime.deviceSynchronize()


def cuda_event_seconds(call: Callable[[], object], library: str = "cupy"):
    """(seconds between CUDA events recorded around ``call()`` on ``library``'s current stream,
    what the call returned). The stop event is waited for, not the whole device."""
    if library == "torch":
        import torch

        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = call()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop) / 1e3, out
    import cupy as cp

    start, stop = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    out = call()
    stop.record()
    stop.synchronize()
    return cp.cuda.get_elapsed_time(start, stop) / 1e3, out


def cuda_median_seconds(call: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median CUDA-event seconds of ``repeats`` calls on CuPy's current stream, after ``warmup``
    untimed calls and a device synchronisation."""
    for _ in range(warmup):
        call()
    cuda_synchronize()
    return float(np.median([cuda_event_seconds(call)[0] for _ in range(repeats)]))


# ---------------------------------------------------------------------------------------------
# Markdown tables


def markdown_row(cells: Iterable) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown_header(headers: Sequence[str]) -> str:
    """The head of a table and its rule, for scripts that print rows as they are measured."""
    return markdown_row(headers) + "\n|" + "|".join("---" for _ in headers) + "|"


def markdown_table(rows: Sequence[dict], columns: Sequence[tuple]) -> str:
    """A whole table; ``columns`` is a sequence of (key, header, format), as for
    :func:`semrsm.benchmarking.format_table`."""
    body = [markdown_row(format(r[k], f) if f else str(r[k]) for k, _, f in columns) for r in rows]
    return "\n".join([markdown_header([h for _, h, _ in columns]), *body])
