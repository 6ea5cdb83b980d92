"""The worker protocol: every solver runs in worker processes of its own, so that a peer that
aborts, hangs or poisons the CUDA context loses one case, not the run.

A worker (``bench/gpu_peers.py --worker SOLVER --cases ...``) makes the costs itself (uniform:
``default_rng(5)``, CuPy's on the GPU, as bench/bench_cuda.py; semantic: bench_cuda.semantic_batch,
the negated inner products of ReLU conv features of photos), shares them with torch through
DLPack, times the whole call with CUDA events (median of ``repeats`` after one warm-up; fewer when
a run takes longer than ``max_seconds``) and checks the assignment: a permutation, and its float64
objective within a relative :data:`~peers.adapters.RTOL` of semrsm's on every problem. semrsm
runs first; its objectives, saved in ``refdir``, are the reference. It prints one JSON line per
event, tagged :data:`TAG`: 'hello', then 'start' and a result for each case.

The parent (:func:`run_solver`) reads those lines. A worker that exits, or sends nothing for
``case_timeout`` seconds within a case, is ended and the case recorded as a crash or a time-out;
a warm-up longer than ``slow_seconds`` is reported alone; either way that solver then skips the
cases at least as hard (n larger, or the same n and B at least as large).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from semrsm.datasets import semantic_costs

from _common import cuda_event_seconds, cuda_synchronize

from .adapters import PIPELINES, compare, objectives

#: The script a worker process runs (with ``--worker``).
ENTRY = Path(__file__).resolve().parents[1] / "gpu_peers.py"

#: What starts each line of the protocol on a worker's stdout.
TAG = "@@GPU_PEERS "


def case_key(kind, batch, n):
    return f"{kind}-{batch}x{n}"


def parse_case(key):
    kind, _, shape = key.rpartition("-")
    batch, n = shape.split("x")
    return kind, int(batch), int(n)


def make_costs(kind, batch, n, device="cuda"):
    """The benchmark's float32 (batch, n, n) costs: a CuPy array on 'cuda', NumPy on 'cpu'.

    'uniform': uniform [0, 1) from ``default_rng(5)`` (CuPy's on the GPU), as bench/bench_cuda.py;
    'semantic': negated inner products of ReLU conv features of photo crops (bench_cuda's
    ``semantic_batch`` on the GPU, ``semrsm.datasets.semantic_costs`` on the CPU).
    """
    if device == "cpu":
        if kind == "uniform":
            return np.random.default_rng(5).random((batch, n, n), dtype=np.float32)
        return semantic_costs(batch, n, channels=256, seed=0)
    import cupy as cp

    if kind == "uniform":
        return cp.random.default_rng(5).random((batch, n, n), dtype=cp.float32)
    from bench_cuda import semantic_batch  # imports CuPy: only here, on the GPU

    return semantic_batch(batch, n)


def _emit(**record):
    print(TAG + json.dumps(record), flush=True)


def _checksum(costs):
    """Two float64 sums of the costs (all entries; a strided sample), reduced where they lie."""
    if costs.is_cuda:
        import cupy as xp
    else:
        xp = np
    flat = xp.from_dlpack(costs.detach()).reshape(-1)
    step = max(1, flat.size // 4096)
    return [float(xp.sum(flat, dtype=xp.float64)), float(xp.sum(flat[::step], dtype=xp.float64))]


def _fatal_cuda(message):
    return bool(re.search(r"illegal memory access|unspecified launch failure|device-side assert|"
                          r"misaligned address|CUDA error: an illegal|cudaErrorLaunchFailure|"
                          r"context is destroyed", message, re.I))


def _time_calls(run, arg, clock, repeats, max_seconds, slow_seconds):
    """One warm-up call, then up to ``repeats`` timed calls: fewer (one) when a timed call takes
    longer than ``max_seconds``; none when the warm-up took longer than ``slow_seconds``, whose
    wall time is then the result. ``clock``: 'torch' or 'cupy' (CUDA events on that library's
    current stream, the one the solver runs on) or 'cpu' (perf_counter).
    Returns (seconds per timed call, last output, whether only the warm-up was timed)."""
    gpu = clock in ("torch", "cupy")
    if gpu:
        cuda_synchronize(clock)
    t0 = time.perf_counter()
    out = run(arg)
    if gpu:
        cuda_synchronize(clock)
    warm = time.perf_counter() - t0
    if warm > slow_seconds:
        return [warm], out, True
    times = []
    for _ in range(repeats):
        if gpu:
            seconds, out = cuda_event_seconds(lambda: run(arg), clock)
        else:
            t0 = time.perf_counter()
            out = run(arg)
            seconds = time.perf_counter() - t0
        times.append(seconds)
        if seconds > max_seconds:
            break
    return times, out, False


def dominates(slow, case):
    """A case at least as hard as an earlier one that was too slow: n larger, or n equal and B
    at least as large (``slow`` and ``case`` are keys 'kind-BxN')."""
    _, b1, n1 = parse_case(slow)
    _, b2, n2 = parse_case(case)
    return n2 > n1 or (n2 == n1 and b2 >= b1)


def work(solver, cases, refdir, device, repeats, max_seconds, slow_seconds, deadline=None):
    """Run ``solver`` on each case, emitting a 'start' line before and a result line after.
    Returns 3 when a CUDA error left the context unusable (the parent goes on in a new worker)."""
    _emit(status="hello", solver=solver, pid=os.getpid())
    try:
        import torch

        if device == "cuda":
            import cupy as cp
    except Exception as e:  # noqa: BLE001
        for key in cases:
            _emit(case=key, status="start")
            _emit(case=key, status="skipped", why=f"import: {type(e).__name__}: {e}")
        return 0
    prepare, run, finish = PIPELINES[solver]
    clock = "cpu" if device == "cpu" else ("cupy" if solver == "semrsm" else "torch")
    slow = []
    for key in cases:
        _emit(case=key, status="start")
        kind, batch, n = parse_case(key)
        if deadline and time.time() > deadline:
            _emit(case=key, status="skipped", why="not run: --budget used up")
            continue
        hard = [k for k in slow if dominates(k, key)]
        if hard:
            _emit(case=key, status="skipped", why=f"not run: {hard[0]} already took longer than {slow_seconds:g} s")
            continue
        costs_native = costs = arg = out = col = None
        try:
            costs_native = make_costs(kind, batch, n, device)
            costs = torch.from_dlpack(costs_native) if device == "cuda" else torch.from_numpy(costs_native)
            checksum = _checksum(costs)
            arg = prepare(costs)
            times, out, warm_only = _time_calls(run, arg, clock, repeats, max_seconds, slow_seconds)
            if warm_only:
                slow.append(key)
            col = finish(out)
            if tuple(col.shape) != (batch, n):
                raise RuntimeError(f"returned shape {tuple(col.shape)}, expected {(batch, n)}")
            obj, valid = objectives(costs, col)
            obj, valid = obj.cpu().numpy(), valid.cpu().numpy()
            record = {"case": key, "status": "ok", "seconds": times, "median_ms": statistics.median(times) * 1e3,
                      "runs": 0 if warm_only else len(times), "checksum": checksum,
                      "input_unchanged": _checksum(costs) == checksum}
            ref_path = Path(refdir) / f"{key}.npz"
            if solver == "semrsm":
                np.savez(ref_path, obj=obj, valid=valid, checksum=np.array(checksum))
                record["check"] = {"problems": batch, "invalid": int((~valid).sum())}
            elif ref_path.exists():
                ref = np.load(ref_path)
                record["check"] = compare(obj, valid & ref["valid"], ref["obj"])
                record["check"]["invalid"] = int((~valid).sum())
                record["same_costs"] = bool(np.allclose(ref["checksum"], checksum, rtol=1e-12, atol=0))
            else:
                record["check"] = None
            _emit(**record)
        except Exception as e:  # noqa: BLE001  (a peer failing is a result)
            message = f"{type(e).__name__}: {e}".strip()
            oom = "out of memory" in message.lower() or "OutOfMemory" in type(e).__name__
            _emit(case=key, status="skipped", why=("out of memory: " if oom else "") + message[:600])
            if device == "cuda" and _fatal_cuda(message):
                return 3
        finally:
            del costs_native, costs, arg, out, col
            if device == "cuda":
                try:
                    torch.cuda.synchronize()
                    torch.cuda.empty_cache()
                    cp.get_default_memory_pool().free_all_blocks()
                except Exception:  # noqa: BLE001  (a sticky CUDA error: go on in a fresh process)
                    return 3
    return 0


# --------------------------------------------------------------------------------------------
# The parent: one worker per solver, restarted after a crash or a hang


def run_solver(solver, cases, refdir, *, site=None, device="cuda", repeats=5, max_seconds=2.0, slow_seconds=20.0,
               case_timeout=120.0, startup_timeout=300.0, deadline=None, log=None):
    """Run ``solver`` over ``cases`` (keys 'kind-BxN') in worker processes; returns key -> record.

    A worker that exits, or sends nothing for ``case_timeout`` seconds within a case, is ended
    (by its process id) and the case recorded as a crash or a time-out with the end of its
    stderr; cases at least as hard as a timed-out one are not tried; the rest go to a fresh
    worker (so does what remains after a worker that died between cases, as a worker does on a
    CUDA error that leaves its context unusable). A worker that dies before saying hello takes
    every remaining case with it.
    """
    results = {}
    remaining = list(cases)
    while remaining:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if site:
            env["PYTHONPATH"] = os.pathsep.join([str(Path(site).resolve())] + [p for p in [env.get("PYTHONPATH")] if p])
        cmd = [sys.executable, str(ENTRY), "--worker", solver, "--cases", ",".join(remaining),
               "--refdir", str(refdir), "--device", device, "--repeats", str(repeats),
               "--max-seconds", str(max_seconds), "--slow-seconds", str(slow_seconds)]
        if deadline:
            cmd += ["--deadline", str(deadline)]
        err = tempfile.TemporaryFile(mode="w+")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        lines = queue.Queue()

        def pump(stream=proc.stdout, sink=lines):
            for row in stream:
                sink.put(row)
            sink.put(None)

        threading.Thread(target=pump, daemon=True).start()
        current, hello, failure, timed_out, progress = None, False, None, False, 0
        wait_until = time.monotonic() + startup_timeout
        while True:
            try:
                row = lines.get(timeout=max(0.1, wait_until - time.monotonic()))
            except queue.Empty:
                failure = f"timed out after {case_timeout if current else startup_timeout:.0f} s"
                timed_out = True
                proc.kill()
                break
            if row is None:
                proc.wait()
                if remaining:
                    failure = f"worker exited with code {proc.returncode}"
                break
            if log:
                log.write(f"[{solver}] {row}")
            if not row.startswith(TAG):
                continue
            msg = json.loads(row[len(TAG):])
            status = msg.get("status")
            if status == "hello":
                hello = True
            elif status == "start":
                current, wait_until = msg["case"], time.monotonic() + case_timeout
            else:
                results[msg["case"]] = msg
                if msg["case"] in remaining:
                    remaining.remove(msg["case"])
                progress += 1
                current, wait_until = None, time.monotonic() + startup_timeout
        with contextlib.suppress(Exception):
            proc.wait(timeout=30)
        err.seek(0)
        stderr = err.read()
        err.close()
        stderr_tail = stderr[-1500:].strip()
        if log and stderr.strip():
            log.write(f"[{solver}] stderr:\n{stderr}\n")
        if not failure:
            continue
        if current is None and progress:
            continue  # it died between cases (exit 3: a CUDA error it reported): go on in a fresh one
        victims = [current] if current else (list(remaining) if not hello else remaining[:1])
        for victim in victims:
            results[victim] = {"case": victim, "status": "skipped", "why": f"{failure}; stderr: {stderr_tail}"}
            remaining.remove(victim)
            print(f"[{solver}] {victim}: {failure}", flush=True)
        if timed_out and current:
            for key in [k for k in remaining if dominates(current, k)]:
                results[key] = {"case": key, "status": "skipped", "why": f"not run: {current} timed out"}
                remaining.remove(key)
    return results
