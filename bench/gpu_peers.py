"""Batched GPU LAP peers against semrsm.solve: the same float32 costs, one run, one table (issue 5).

    python bench/gpu_peers.py --sdists .peers [--site build/gpu-peers] [--peers ...] [--out FILE.md]

Peers, as read from their source distributions (torch-lap-cuda has no wheel on PyPI;
torch-linear-assignment's 0.1.0 wheel is pure Python, while its sdist also holds the 0.0.x kernel):

- ``torch-linear-assignment`` 0.1.0, module ``torch_linear_assignment``:
  ``batch_linear_assignment(cost)`` takes (B, W, T) costs and *minimises*; it returns the column of
  every row as (B, W) int64 (-1 for a row left unassigned when W > T). float32 and float64 are
  solved as given, other dtypes are promoted to float32; NaN and -inf raise. Since 0.1.0 the CUDA
  path is Triton (one program of one warp per problem, its lanes the columns, so BLOCK_N =
  next_power_of_2(T)); it needs compute capability >= 8.0, Torch >= 2.4 and Triton, and otherwise
  falls back to SciPy on the CPU (with one warning), which the adapter here refuses to time. The
  compiled CUDA kernel of the 0.0.x line (Crouse's shortest augmenting paths, one *thread* per
  problem, W <= T on the kernel side) still ships in the sdist and is built when
  ``TLA_BUILD_LEGACY_CUDA=1``; it is benchmarked too, as ``tla-cuda``. Install needs: setuptools;
  scipy, torch and triton at run time (all on the GPU machine); the 0.0.x kernel also needs nvcc
  and a CUDA build of torch (setup.py refuses otherwise unless ``FORCE_CUDA=1``). No arch flags:
  torch's ``TORCH_CUDA_ARCH_LIST`` (or the visible GPU) decides.
- ``torch-lap-cuda`` 0.0.3, module ``torch_lap_cuda`` (extension ``torch_lap_cuda_lib``):
  ``solve_lap(cost, device=None)`` takes (B, N, N) (or (N, N)) CUDA costs, *square only*, and
  *minimises* (HyLAC: a Hungarian method with one 1024-thread block per problem); int32, int64,
  float32 and float64 (it checks for half too, but does not dispatch it). Returns (B, N) int64
  columns. It copies the costs (the slack matrix) and allocates an int64 (B, N, N) table of zeros,
  so it needs about 3x the costs' memory on top of them; zeros are tested with ``|x| < 1e-6``, an
  absolute tolerance, so float costs may give non-optimal objectives. CUDA errors inside it call
  ``exit(1)``. Build needs: ``--no-build-isolation`` (setup.py imports torch), nvcc, packaging and
  a CUDA torch; it compiles sm_75 always plus the archs in ``torch_lap_cuda_ARCHS`` (default
  "75;80;86;89;90;100;120"; set here to the GPU's own) and links ``-lcuda`` (found or made here).
  0.0.3 does not compile with CUDA 13 (CCCL 3 removed ``cub::Max``/``cub::Min``): when the first
  build fails on that, :func:`build` patches the two functors with local equivalents and says so.

Each solver runs in worker processes of its own (a peer that aborts, hangs or poisons the CUDA
context loses one case, not the run): the worker makes the costs itself (uniform: CuPy's
``default_rng(5)``, as bench/bench_cuda.py; semantic: bench_cuda.semantic_batch, the negated inner
products of ReLU conv features of photos), shares them with torch through DLPack, times the whole
call with CUDA events (median of 5 after one warm-up; fewer when a run takes longer than
``--max-seconds``) and checks the assignment: a permutation, and its float64 objective within a
relative 1e-5 of semrsm's on every problem. semrsm runs first (always); its objectives are the
reference. A failing case is reported with its reason. A warm-up longer than ``--slow-seconds`` is
reported alone, and a case that runs past ``--case-timeout`` is ended; either way that solver then
skips the cases at least as hard (n larger, or the same n and B at least as large).

Fetching the sources (here, where PyPI answers; the GPU machine has no network), in the repo root::

    x=$(git rev-parse --git-path info/exclude); mkdir -p "$(dirname "$x")"   # local, not .gitignore
    grep -qxF /.peers/ "$x" 2>/dev/null || echo /.peers/ >> "$x"
    python3 bench/gpu_peers.py --fetch .peers

:func:`fetch` is ``pip download --no-deps --no-binary :all: -d .peers torch-linear-assignment==0.1.0
torch-lap-cuda==0.0.3`` (``--spec NAME`` for others or the newest). Plain pip fails on
torch-lap-cuda: to write its metadata its setup.py imports torch and runs ``$CUDA_HOME/bin/nvcc
-V``, so the download runs without build isolation, with a stub ``torch`` and a stub nvcc first
on PYTHONPATH and PATH. Nothing is built here. Then on the GPU machine, naming the folder in the
device call's carry (``carry=[".peers"]``; the two sdists are 1.2 MB), with semrsm built there
(CUDA on) and within the device's 10 minutes a command::

    python3 bench/gpu_peers.py --sdists .peers --build-only           # a few minutes of nvcc
    PYTHONUNBUFFERED=1 python3 bench/gpu_peers.py --budget 540 --out $OUT/gpu_peers.md
    # or a part per call: --peers tla-cuda --sizes 256x256,10000x256 --kinds uniform

The peers install with ``pip install --no-build-isolation --no-deps --no-index --target
build/gpu-peers``: not into the interpreter, and kept between the calls to a warm machine
(``build/`` is ignored and not carried), so later calls reuse them (``--rebuild`` forces a build).

Importing this module needs neither torch nor CuPy; they are imported where used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The peers' distributions and the versions this module was written against (their private
#: entry points are used: torch_linear_assignment's Triton eligibility test and 0.0.x kernel).
PEER_DISTS = {"torch-linear-assignment": "0.1.0", "torch-lap-cuda": "0.0.3"}

#: Solver name -> (label in the table, distribution it comes from). Table columns in this order.
SOLVERS = {
    "semrsm": ("semrsm.solve", "semrsm"),
    "tla-triton": ("torch-linear-assignment (Triton)", "torch-linear-assignment"),
    "tla-cuda": ("torch-linear-assignment 0.0.x CUDA kernel", "torch-linear-assignment"),
    "torch-lap-cuda": ("torch-lap-cuda (HyLAC)", "torch-lap-cuda"),
}

#: (B, n) of issue 5; every problem is n x n.
SIZES = [(256, 256), (10000, 256), (100000, 64), (256, 512), (16, 1024)]
KINDS = ("uniform", "semantic")
RTOL = 1e-5
_TAG = "@@GPU_PEERS "


# --------------------------------------------------------------------------------------------
# Fetching and building the peers


_STUB_CPP_EXTENSION = '''\
"""Stub of torch.utils.cpp_extension for writing sdist metadata only (bench/gpu_peers.py)."""
import os
from setuptools import Extension
from setuptools.command.build_ext import build_ext as BuildExtension

CUDA_HOME = os.environ.get("GPU_PEERS_STUB_CUDA_HOME")
ROCM_HOME = None


def CUDAExtension(name, sources, *args, **kwargs):
    return Extension(name, [str(s) for s in sources])


CppExtension = CUDAExtension
'''

_STUB_NVCC = """#!/bin/sh
echo "nvcc: stub for writing metadata only (bench/gpu_peers.py)"
echo "Cuda compilation tools, release 12.4, V12.4.0"
"""


def fetch(dest, specs=None, python=None, timeout=600):
    """Download the peers' source distributions (no dependencies, nothing built).

    Parameters
    ----------
    dest : str or Path
        Folder to save the sdists in (created). In the repo: ``.peers``, listed in
        ``.git/info/exclude``.
    specs : list of str, optional
        Requirement specifiers; default the versions in :data:`PEER_DISTS`, pinned. Give bare
        names for the newest.
    python : str, optional
        Interpreter whose pip runs the download (default: this one). It needs setuptools and
        packaging, not torch.
    timeout : float
        Seconds per download.

    Returns
    -------
    dict
        Specifier -> path of the saved sdist, or the error tail of pip when it failed.

    Notes
    -----
    ``pip download`` prepares each sdist's metadata, and torch-lap-cuda's setup.py imports torch,
    asks it for CUDA_HOME and runs ``nvcc -V`` to do so. The download therefore runs without build
    isolation, with a stub ``torch`` package and a stub nvcc first on PYTHONPATH and PATH. They
    only let setup.py describe itself; the real build happens on the GPU machine.
    """
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    specs = list(specs) if specs else [f"{d}=={v}" for d, v in PEER_DISTS.items()]
    python = python or sys.executable
    out = {}
    with tempfile.TemporaryDirectory(prefix="gpu-peers-stub-") as tmp:
        stub = Path(tmp)
        (stub / "torch" / "utils").mkdir(parents=True)
        (stub / "torch" / "__init__.py").write_text('__version__ = "2.0.0"\n')
        (stub / "torch" / "utils" / "__init__.py").write_text("")
        (stub / "torch" / "utils" / "cpp_extension.py").write_text(_STUB_CPP_EXTENSION)
        (stub / "cuda" / "bin").mkdir(parents=True)
        nvcc = stub / "cuda" / "bin" / "nvcc"
        nvcc.write_text(_STUB_NVCC)
        nvcc.chmod(0o755)
        pythonpath = [str(stub)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath),
                   PATH=os.pathsep.join([str(stub / "cuda" / "bin"), os.environ.get("PATH", "")]),
                   GPU_PEERS_STUB_CUDA_HOME=str(stub / "cuda"), CUDA_HOME=str(stub / "cuda"))
        for spec in specs:
            before = set(dest.iterdir())
            cmd = [python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
                   "-d", str(dest), spec]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
            saved = re.findall(r"(?:Saved|File was already downloaded) (\S+)", proc.stdout)
            new = sorted(set(dest.iterdir()) - before)
            if proc.returncode == 0:
                out[spec] = str(new[0] if new else (saved[0] if saved else dest))
            else:
                out[spec] = "FAILED: " + _error_summary(proc.stdout + proc.stderr)
    return out


def _sdist_name(path):
    """('torch-lap-cuda', '0.0.3') from 'torch_lap_cuda-0.0.3.tar.gz'."""
    stem = path.name
    for ext in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    name, _, version = stem.rpartition("-")
    return re.sub(r"[-_.]+", "-", name).lower(), version


def _error_summary(log, lines=25):
    """The compiler's error lines first, then the end of the log."""
    rows = log.splitlines()
    errors = []
    for row in rows:
        if re.search(r"\berror\b|cannot find|undefined reference|No such file", row, re.I) and row not in errors:
            errors.append(row.strip())
    tail = [r for r in rows[-lines:] if r.strip()]
    return "\n".join(errors[:lines] + ["..."] + tail)


def _gpu_arch():
    """'9.0' for an H100, from nvidia-smi; None when it cannot tell."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=60).stdout.split()
        return out[0] if out and re.fullmatch(r"\d+\.\d+", out[0]) else None
    except (OSError, subprocess.SubprocessError):
        return None


def _libcuda_dir(scratch):
    """A folder holding a linkable libcuda.so (torch-lap-cuda links -lcuda): the toolkit's stubs or
    the driver's folder, or ``scratch`` with a libcuda.so link to the driver's libcuda.so.1."""
    cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if not cuda_home and shutil.which("nvcc"):
        cuda_home = str(Path(shutil.which("nvcc")).resolve().parent.parent)
    dirs = []
    if cuda_home:
        dirs += [Path(cuda_home) / "lib64" / "stubs", Path(cuda_home) / "targets" / "x86_64-linux" / "lib" / "stubs"]
    dirs += [Path(p) for p in ("/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu",
                               "/usr/lib64", "/usr/local/cuda/lib64/stubs")]
    for d in dirs:
        if (d / "libcuda.so").exists():
            return str(d)
    for d in dirs:
        if (d / "libcuda.so.1").exists():
            Path(scratch).mkdir(parents=True, exist_ok=True)
            link = Path(scratch) / "libcuda.so"
            if not link.exists():
                link.symlink_to(d / "libcuda.so.1")
            return str(scratch)
    return None


_CUB_SHIM = """
// Added by semrsm's bench/gpu_peers.py: cub::Max and cub::Min were removed in CCCL 3.0 (CUDA 13).
struct GpuPeersMax {
  template <typename T>
  __host__ __device__ __forceinline__ T operator()(const T &a, const T &b) const { return a < b ? b : a; }
};
struct GpuPeersMin {
  template <typename T>
  __host__ __device__ __forceinline__ T operator()(const T &a, const T &b) const { return b < a ? b : a; }
};
"""


def _patch_cub_functors(src):
    """Replace cub::Max()/cub::Min() (gone in CCCL 3) by equivalent local functors in the sources
    under ``src``; returns the files changed."""
    changed = []
    for path in sorted(Path(src).rglob("*")):
        if path.suffix not in (".cu", ".cuh", ".h", ".hpp", ".cpp") or not path.is_file():
            continue
        text = path.read_text()
        if "cub::Max()" not in text and "cub::Min()" not in text:
            continue
        new = text.replace("cub::Max()", "GpuPeersMax()").replace("cub::Min()", "GpuPeersMin()")
        anchor = "#include <cub/cub.cuh>\n"
        new = new.replace(anchor, anchor + _CUB_SHIM, 1) if anchor in new else _CUB_SHIM + new
        path.write_text(new)
        changed.append(str(path.relative_to(src)))
    return changed


def _attempts(dist):
    """Build attempts per distribution: (label, extra environment, needs the CCCL 3 patch)."""
    if dist == "torch-linear-assignment":
        return [("Triton + 0.0.x CUDA kernel", {"TLA_BUILD_LEGACY_CUDA": "1", "FORCE_CUDA": "1"}, False),
                ("Triton only (0.0.x kernel failed)", {}, False)]
    if dist == "torch-lap-cuda":
        return [("as released", {}, False), ("CCCL 3 patch (cub::Max/Min)", {}, True)]
    return [("as released", {}, False)]


_IMPORT_CHECK = {
    "torch-linear-assignment": (
        "import torch_linear_assignment\n"
        "for mod in ('triton', 'torch_linear_assignment._backend'):\n"
        "    try:\n        __import__(mod)\n        print(mod, 'imports')\n"
        "    except ImportError as e:\n        print(mod, 'does not import: %s: %s' % (type(e).__name__, e))"),
    "torch-lap-cuda": "import torch_lap_cuda, torch_lap_cuda_lib; print('imports')",
}


def build(sdist_dir, target=None, *, rebuild=False, timeout=1800, verbose=True):
    """pip-install every sdist in ``sdist_dir`` with ``--no-build-isolation --no-deps --no-index``.

    Parameters
    ----------
    sdist_dir : str or Path
        Folder of ``*.tar.gz`` / ``*.zip`` sdists (as :func:`fetch` leaves them).
    target : str or Path, optional
        Install with ``--target`` into this folder (put it first on sys.path to import them), and
        keep a record per sdist there so that a later call reuses a build. None: install into
        this interpreter, always building.
    rebuild : bool
        Build even when ``target`` records an earlier build of the same sdist.
    timeout : float
        Seconds per pip call.
    verbose : bool
        Print one line per attempt.

    Returns
    -------
    dict
        Distribution name -> record with ``ok`` (bool), ``version``, ``variant`` (which attempt
        built), ``patched`` (files changed), ``seconds``, ``import`` (the import check's output)
        and, for each failed attempt, ``errors`` (label -> the error lines and end of pip's log).

    Notes
    -----
    The environment is set for the GPU in this machine unless already set:
    ``TORCH_CUDA_ARCH_LIST`` and torch-lap-cuda's ``torch_lap_cuda_ARCHS`` (its setup.py builds
    sm_75 plus these), ``MAX_JOBS``, and ``LIBRARY_PATH`` gets a folder with a linkable libcuda.so.
    torch-linear-assignment is tried with its 0.0.x CUDA kernel first, then without;
    torch-lap-cuda as released, then, if the compiler stopped at cub::Max/cub::Min, patched.
    """
    sdist_dir = Path(sdist_dir)
    sdists = sorted(p for p in sdist_dir.iterdir() if re.search(r"\.(tar\.gz|zip|tar\.bz2|tgz)$", p.name))
    records_dir = Path(target) / ".gpu_peers" if target else None
    scratch = Path(tempfile.mkdtemp(prefix="gpu-peers-build-"))
    env = dict(os.environ)
    arch = _gpu_arch()
    if arch:
        env.setdefault("TORCH_CUDA_ARCH_LIST", arch)
        env.setdefault("torch_lap_cuda_ARCHS", arch.replace(".", ""))
    env.setdefault("MAX_JOBS", str(os.cpu_count() or 4))
    libcuda = _libcuda_dir(scratch / "libcuda")
    if libcuda:
        env["LIBRARY_PATH"] = os.pathsep.join([p for p in (env.get("LIBRARY_PATH"), libcuda) if p])
    results = {}
    try:
        for sdist in sdists:
            dist, version = _sdist_name(sdist)
            record_path = records_dir / (sdist.name + ".json") if records_dir else None
            if record_path and record_path.exists() and not rebuild:
                record = json.loads(record_path.read_text())
                if record.get("ok"):
                    record["reused"] = True
                    results[dist] = record
                    if verbose:
                        print(f"[build] {dist} {version}: reusing the build in {target}", flush=True)
                    continue
            record = {"ok": False, "dist": dist, "version": version, "sdist": sdist.name, "errors": {},
                      "patched": [], "seconds": 0.0, "env": {k: env[k] for k in ("TORCH_CUDA_ARCH_LIST",
                      "torch_lap_cuda_ARCHS", "LIBRARY_PATH") if k in env}}
            attempts = _attempts(dist)
            for i, (label, extra, patch) in enumerate(attempts):
                if patch:
                    last = "\n".join(record["errors"].values())
                    if not re.search(r'cub"? has no member "?(Max|Min)|cub::(Max|Min)', last):
                        continue
                    src = scratch / f"src-{dist}"
                    shutil.rmtree(src, ignore_errors=True)
                    src.mkdir(parents=True)
                    if sdist.name.endswith(".zip"):
                        import zipfile

                        with zipfile.ZipFile(sdist) as archive:
                            archive.extractall(src)
                    else:
                        with tarfile.open(sdist) as tar:
                            try:
                                tar.extractall(src, filter="data")
                            except TypeError:  # Python without extraction filters
                                tar.extractall(src)
                    roots = [p for p in src.iterdir() if p.is_dir()]
                    source = roots[0] if len(roots) == 1 else src
                    record["patched"] = _patch_cub_functors(source)
                else:
                    source = sdist
                cmd = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                       "--no-cache-dir", "--disable-pip-version-check"]
                if target:
                    cmd += ["--target", str(target), "--upgrade"]
                cmd.append(str(source))
                if verbose:
                    print(f"[build] {dist} {version}: {label} ...", flush=True)
                t0 = time.perf_counter()
                try:
                    proc = subprocess.run(cmd, env=dict(env, **extra), capture_output=True, text=True, timeout=timeout)
                    ok, log = proc.returncode == 0, proc.stdout + proc.stderr
                except subprocess.TimeoutExpired as e:
                    ok, log = False, f"timed out after {timeout} s\n{e.stdout or ''}{e.stderr or ''}"
                seconds = time.perf_counter() - t0
                record["seconds"] += seconds
                if records_dir:
                    records_dir.mkdir(parents=True, exist_ok=True)
                    (records_dir / f"{sdist.name}.attempt{i}.log").write_text(log if isinstance(log, str) else str(log))
                if verbose:
                    print(f"[build] {dist} {version}: {label}: {'built' if ok else 'FAILED'} in {seconds:.0f} s",
                          flush=True)
                if ok:
                    record["ok"], record["variant"] = True, label
                    break
                record["errors"][label] = _error_summary(log)
            if record["ok"] and dist in _IMPORT_CHECK:
                check_env = dict(env)
                if target:
                    check_env["PYTHONPATH"] = os.pathsep.join([str(Path(target).resolve())] +
                                                              [p for p in [env.get("PYTHONPATH")] if p])
                proc = subprocess.run([sys.executable, "-c", _IMPORT_CHECK[dist]], env=check_env,
                                      capture_output=True, text=True, timeout=600)
                record["import"] = (proc.stdout + proc.stderr).strip()[-2000:]
                record["ok"] = proc.returncode == 0
            if record_path:
                record_path.write_text(json.dumps(record, indent=1))
            results[dist] = record
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


# --------------------------------------------------------------------------------------------
# Adapters: (B, n, m) CUDA torch costs -> (B, n) int64 columns, minimising


def _check_costs(costs, need_cuda=True):
    import torch

    if not isinstance(costs, torch.Tensor):
        raise TypeError(f"costs must be a torch.Tensor, got {type(costs).__name__}")
    if costs.ndim != 3:
        raise ValueError(f"costs must be (B, n, m), got shape {tuple(costs.shape)}")
    if costs.shape[1] > costs.shape[2]:
        raise ValueError(f"costs must have n <= m, got shape {tuple(costs.shape)}")
    if costs.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"costs must be float32 or float64, got {costs.dtype}")
    if need_cuda and not costs.is_cuda:
        raise ValueError("costs must be on a CUDA device")


def _semrsm_prepare(costs):
    _check_costs(costs, need_cuda=False)
    if not costs.is_cuda:
        return costs.numpy()  # the CPU engine (plumbing check)
    import cupy

    return cupy.from_dlpack(costs)


def _semrsm_run(costs_cp):
    import semrsm

    return semrsm.solve(costs_cp)


def _semrsm_finish(result):
    import torch

    return torch.from_dlpack(result.col).to(torch.int64)


def solve_semrsm(costs):
    """semrsm.solve on the same memory (CuPy through DLPack; NumPy for CPU tensors): (B, n) int64
    columns."""
    return _semrsm_finish(_semrsm_run(_semrsm_prepare(costs)))


def _tla_triton_prepare(costs):
    _check_costs(costs, need_cuda=False)
    from torch_linear_assignment import assignment

    if costs.is_cuda and not assignment._cuda_uses_triton(costs):
        raise RuntimeError("torch-linear-assignment would not use Triton here (it needs compute capability >= 8.0, "
                           "Torch >= 2.4 and triton) and would solve on the CPU with SciPy")
    return costs


def _tla_triton_run(costs):
    from torch_linear_assignment import batch_linear_assignment

    return batch_linear_assignment(costs)


def solve_torch_linear_assignment(costs):
    """torch_linear_assignment.batch_linear_assignment (Triton on CUDA; SciPy for CPU tensors):
    (B, n) int64 columns. Raises rather than let a CUDA input fall back to SciPy."""
    return _tla_triton_run(_tla_triton_prepare(costs))


def _tla_cuda_prepare(costs):
    _check_costs(costs)
    import importlib.util

    if importlib.util.find_spec("torch_linear_assignment._backend") is None:
        raise RuntimeError("torch-linear-assignment was built without its 0.0.x CUDA kernel "
                           "(TLA_BUILD_LEGACY_CUDA=1)")
    return costs.contiguous()


def _tla_cuda_run(costs):
    from torch_linear_assignment import assignment

    return assignment._batch_linear_assignment_cuda_legacy(costs)


def solve_torch_linear_assignment_legacy(costs):
    """torch-linear-assignment's 0.0.x CUDA kernel (one thread per problem), as 0.0.6 calls it:
    (B, n) int64 columns."""
    return _tla_cuda_run(_tla_cuda_prepare(costs))


def _lap_cuda_prepare(costs):
    _check_costs(costs)
    if costs.shape[1] != costs.shape[2]:
        raise ValueError(f"torch-lap-cuda solves square problems only, got shape {tuple(costs.shape)}")
    return costs


def _lap_cuda_run(costs):
    from torch_lap_cuda import solve_lap

    return solve_lap(costs)


def solve_torch_lap_cuda(costs):
    """torch_lap_cuda.solve_lap (square problems only): (B, n) int64 columns."""
    return _lap_cuda_run(_lap_cuda_prepare(costs))


def _identity(x):
    return x


#: Solver name -> (prepare, timed call, finish): the timing covers the call only.
_PIPELINES = {
    "semrsm": (_semrsm_prepare, _semrsm_run, _semrsm_finish),
    "tla-triton": (_tla_triton_prepare, _tla_triton_run, _identity),
    "tla-cuda": (_tla_cuda_prepare, _tla_cuda_run, _identity),
    "torch-lap-cuda": (_lap_cuda_prepare, _lap_cuda_run, _identity),
}


def objectives(costs, col):
    """Per-problem float64 objective of columns ``col`` (B, n) on ``costs`` (B, n, m), and a (B,)
    bool mask of the problems where ``col`` is a valid assignment (in range, no column twice)."""
    import torch

    col = col.to(device=costs.device, dtype=torch.int64)
    m = costs.shape[2]
    in_range = ((col >= 0) & (col < m)).all(dim=1)
    safe = col.clamp(0, m - 1)
    ordered = safe.sort(dim=1).values
    distinct = (ordered[:, 1:] != ordered[:, :-1]).all(dim=1) if col.shape[1] > 1 else torch.ones_like(in_range)
    obj = torch.gather(costs, 2, safe.unsqueeze(2)).squeeze(2).to(torch.float64).sum(dim=1)
    return obj, in_range & distinct


def compare(obj, valid, ref, rtol=RTOL):
    """Compare objectives with the reference: counts of problems worse / better than it beyond
    ``rtol`` (relative to |ref|, floor 1e-12), invalid assignments, and the largest relative gap."""
    import numpy as np

    obj, ref, valid = np.asarray(obj, np.float64), np.asarray(ref, np.float64), np.asarray(valid, bool)
    scale = np.maximum(np.abs(ref), 1e-12)
    rel = (obj - ref) / scale
    rel_valid = np.where(valid, rel, 0.0)
    return {"problems": int(obj.size), "invalid": int((~valid).sum()),
            "worse": int(((rel > rtol) & valid).sum()), "better": int(((rel < -rtol) & valid).sum()),
            "max_rel_gap": float(np.abs(rel_valid).max()) if obj.size else 0.0}


# --------------------------------------------------------------------------------------------
# Worker: one solver, a list of cases, one JSON line per event


def _case_key(kind, batch, n):
    return f"{kind}-{batch}x{n}"


def _parse_case(key):
    kind, _, shape = key.rpartition("-")
    batch, n = shape.split("x")
    return kind, int(batch), int(n)


def make_costs(kind, batch, n, device="cuda"):
    """The benchmark's float32 (batch, n, n) costs: a CuPy array on 'cuda', NumPy on 'cpu'.

    'uniform': uniform [0, 1) from ``default_rng(5)`` (CuPy's on the GPU), as bench/bench_cuda.py;
    'semantic': negated inner products of ReLU conv features of photo crops (bench_cuda's
    ``semantic_batch`` on the GPU, ``semrsm.datasets.semantic_costs`` on the CPU).
    """
    import numpy as np

    if device == "cpu":
        if kind == "uniform":
            return np.random.default_rng(5).random((batch, n, n), dtype=np.float32)
        from semrsm.datasets import semantic_costs

        return semantic_costs(batch, n, channels=256, seed=0)
    import cupy as cp

    if kind == "uniform":
        return cp.random.default_rng(5).random((batch, n, n), dtype=cp.float32)
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from bench_cuda import semantic_batch

    return semantic_batch(batch, n)


def _emit(**record):
    print(_TAG + json.dumps(record), flush=True)


def _checksum(costs):
    """Two float64 sums of the costs (all entries; a strided sample), reduced where they lie."""
    if costs.is_cuda:
        import cupy as xp
    else:
        import numpy as xp
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
    if clock == "torch":
        import torch

        sync, event = torch.cuda.synchronize, (lambda: torch.cuda.Event(enable_timing=True))

        def elapsed(start, stop):
            return start.elapsed_time(stop) / 1e3
    elif clock == "cupy":
        import cupy as cp

        sync, event = cp.cuda.runtime.deviceSynchronize, cp.cuda.Event

        def elapsed(start, stop):
            return cp.cuda.get_elapsed_time(start, stop) / 1e3
    else:
        sync = event = elapsed = None
    if sync:
        sync()
    t0 = time.perf_counter()
    out = run(arg)
    if sync:
        sync()
    warm = time.perf_counter() - t0
    if warm > slow_seconds:
        return [warm], out, True
    times = []
    for _ in range(repeats):
        if event:
            start, stop = event(), event()
            start.record()
            out = run(arg)
            stop.record()
            stop.synchronize()
            times.append(elapsed(start, stop))
        else:
            t0 = time.perf_counter()
            out = run(arg)
            times.append(time.perf_counter() - t0)
        if times[-1] > max_seconds:
            break
    return times, out, False


def _dominates(slow, case):
    """A case at least as hard as an earlier one that was too slow: n larger, or n equal and B
    at least as large (``slow`` and ``case`` are keys 'kind-BxN')."""
    _, b1, n1 = _parse_case(slow)
    _, b2, n2 = _parse_case(case)
    return n2 > n1 or (n2 == n1 and b2 >= b1)


def _worker(solver, cases, refdir, device, repeats, max_seconds, slow_seconds, deadline=None):
    """Run ``solver`` on each case, emitting a 'start' line before and a result line after.
    Returns 3 when a CUDA error left the context unusable (the parent goes on in a new worker)."""
    import numpy as np

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
    prepare, run, finish = _PIPELINES[solver]
    clock = "cpu" if device == "cpu" else ("cupy" if solver == "semrsm" else "torch")
    slow = []
    for key in cases:
        _emit(case=key, status="start")
        kind, batch, n = _parse_case(key)
        if deadline and time.time() > deadline:
            _emit(case=key, status="skipped", why="not run: --budget used up")
            continue
        hard = [k for k in slow if _dominates(k, key)]
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
# Parent: one worker per solver, restarted after a crash or a hang


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
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", solver, "--cases", ",".join(remaining),
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
            if not row.startswith(_TAG):
                continue
            msg = json.loads(row[len(_TAG):])
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
            for key in [k for k in remaining if _dominates(current, k)]:
                results[key] = {"case": key, "status": "skipped", "why": f"not run: {current} timed out"}
                remaining.remove(key)
    return results


def _versions(site):
    """Installed versions of the things in the table, read without importing torch here."""
    import importlib.metadata as md

    out = {}
    paths = [str(Path(site).resolve())] + sys.path if site else sys.path
    for name in ("semrsm", "torch", "triton", "cupy-cuda13x", "cupy-cuda12x", "cupy", "numpy",
                 "torch-linear-assignment", "torch-lap-cuda", "torch_lap_cuda"):
        with contextlib.suppress(md.PackageNotFoundError, StopIteration):
            dist = next(iter(md.distributions(name=name, path=paths)), None)
            if dist is not None:
                out[dist.metadata["Name"]] = dist.version
    return out


def _gpu_name():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "n/a"


def markdown(results, solvers, cases, repeats=5):
    """The comparison table: one row per case, one column per solver (median ms and, for the
    peers, their time over semrsm's), then the objective checks and the reasons for every skip."""
    head = ["costs", "B", "n"] + [f"{SOLVERS[s][0]} ms" for s in solvers] + ["objectives vs semrsm"]
    rows = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    notes = []
    for key in cases:
        kind, batch, n = _parse_case(key)
        ours = results.get("semrsm", {}).get(key, {})
        ours_ms = ours.get("median_ms") if ours.get("status") == "ok" else None
        cells, checks = [kind, str(batch), str(n)], []
        for s in solvers:
            r = results.get(s, {}).get(key)
            if r is None:
                cells.append("-")
                continue
            if r.get("status") != "ok":
                notes.append(f"- {SOLVERS[s][0]}, {kind} B={batch} n={n}: {r.get('why', '?')}")
                cells.append(f"skipped [{len(notes)}]")
                continue
            ms = r["median_ms"]
            cell = f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"
            if r["runs"] == 0:
                cell += " (warm-up only)"
            elif r["runs"] < repeats:
                cell += f" ({r['runs']} run{'s' if r['runs'] > 1 else ''})"
            if s != "semrsm" and ours_ms:
                ratio = ms / ours_ms
                cell += f" ({ratio:.1f}x)" if ratio >= 0.95 else f" ({ratio:.2f}x)"
            cells.append(cell)
            c = r.get("check")
            if s == "semrsm":
                if c and c.get("invalid"):
                    checks.append(f"semrsm: {c['invalid']} invalid!")
                continue
            if not r.get("input_unchanged", True):
                checks.append(f"{s}: changed its input")
            if not c:
                checks.append(f"{s}: no reference")
            elif c["invalid"] or c["worse"] or c["better"]:
                parts = [f"{c[k]} {k}" for k in ("worse", "better", "invalid") if c[k]]
                checks.append(f"{s}: {', '.join(parts)} of {c['problems']} (max rel. gap {c['max_rel_gap']:.1e})")
            else:
                checks.append(f"{s}: equal")
            if r.get("same_costs") is False:
                checks.append(f"{s}: costs differed from semrsm's worker (checksum)")
        cells.append("; ".join(checks) or "-")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows), notes


def build_report(built):
    """Markdown lines saying what :func:`build` built, how, and why anything failed."""
    lines = []
    for dist, rec in built.items():
        if rec.get("ok"):
            line = f"- {dist} {rec['version']}: built ({rec.get('variant', '?')}"
            line += f"; patched {', '.join(rec['patched'])}" if rec.get("patched") else ""
            line += f", {rec.get('seconds', 0):.0f} s" + (", reused" if rec.get("reused") else "")
            imported = " / ".join(rec.get("import", "").splitlines()[-2:])
            lines.append(line + f"); import check: {imported or '-'}")
            for label, errors in rec.get("errors", {}).items():
                first = next((e for e in errors.splitlines() if "error" in e.lower()), errors[:200])
                lines.append(f"  - {label} failed first: `{first.strip()}`")
        else:
            lines.append(f"- {dist} {rec['version']}: NOT built")
            for label, errors in rec.get("errors", {}).items():
                lines += [f"  - {label}:", "", "```", errors, "```", ""]
            if rec.get("import"):
                lines += ["  - import check:", "", "```", rec["import"], "```", ""]
    return lines


def main(argv=None):
    """Command line: fetch the sdists (``--fetch``), or build them and run the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fetch", metavar="DIR", help="download the peers' sdists into DIR and stop")
    parser.add_argument("--spec", action="append", help="with --fetch: requirement(s) instead of the pinned ones")
    parser.add_argument("--sdists", metavar="DIR", help="folder of carried sdists to build first")
    parser.add_argument("--site", default=str(HERE.parent / "build" / "gpu-peers"),
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
                        "started by then are reported as not run; keep it inside the device's 10 minutes a command")
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
        return _worker(args.worker, args.cases.split(","), args.refdir, args.device, args.repeats, args.max_seconds,
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
    cases = [_case_key(k, b, n) for k in args.kinds.split(",") if k for b, n in sizes]

    deadline = time.time() + args.budget if args.budget else None
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

    versions = _versions(args.site)
    parts += [f"- GPU: {_gpu_name()}" if args.device == "cuda" else "- device: CPU (plumbing check, not a benchmark)",
              "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
              f"- Python {sys.version.split()[0]}; float32 costs; times: median of {args.repeats} after a warm-up "
              f"(CUDA events around the whole call), '(x)' = that solver's time over semrsm's; objectives in "
              f"float64 from the returned columns, equal = within {RTOL:g} relative on every problem", ""]

    results = {}
    log = open(args.log, "w") if args.log else None  # noqa: SIM115
    try:
        with tempfile.TemporaryDirectory(prefix="gpu-peers-ref-") as refdir:
            for solver in solvers:
                print(f"[{solver}] {len(cases)} cases ...", flush=True)
                t0 = time.perf_counter()
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


if __name__ == "__main__":
    sys.exit(main())
