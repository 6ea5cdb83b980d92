"""Building the peers from their sdists on the GPU machine, against its PyTorch and nvcc.

Each sdist is installed with ``pip install --no-build-isolation --no-deps --no-index``, by default
with ``--target`` into a folder of its own (build/gpu-peers), not into the interpreter; a record
per sdist there lets a later run reuse the build. torch-linear-assignment is tried with its 0.0.x
CUDA kernel first (``TLA_BUILD_LEGACY_CUDA=1``), then Triton only; torch-lap-cuda as released,
then, when the compiler stopped at ``cub::Max``/``cub::Min`` (removed in CCCL 3, CUDA 13), with the
two functors replaced by local equivalents, which the report says.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from .fetch import error_summary, sdist_name


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
// Added by semrsm's bench/peers/build.py: cub::Max and cub::Min were removed in CCCL 3.0 (CUDA 13).
struct GpuPeersMax {
  template <typename T>
  __host__ __device__ __forceinline__ T operator()(const T &a, const T &b) const { return a < b ? b : a; }
};
struct GpuPeersMin {
  template <typename T>
  __host__ __device__ __forceinline__ T operator()(const T &a, const T &b) const { return b < a ? b : a; }
};
"""


def patch_cub_functors(src):
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
            dist, version = sdist_name(sdist)
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
                    record["patched"] = patch_cub_functors(source)
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
                record["errors"][label] = error_summary(log)
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
