"""Fetching the peers' source distributions where PyPI answers (the GPU machine has no network).

``pip download --no-deps --no-binary :all: -d DIR torch-linear-assignment==0.1.0 torch-lap-cuda==0.0.3``
fails as such on torch-lap-cuda: to write its metadata its setup.py imports torch and runs
``$CUDA_HOME/bin/nvcc -V``. :func:`fetch` therefore downloads without build isolation, with a stub
``torch`` and a stub nvcc first on PYTHONPATH and PATH. Nothing is built here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

#: The peers' distributions and the versions this package was written against (their private
#: entry points are used: torch_linear_assignment's Triton eligibility test and 0.0.x kernel).
PEER_DISTS = {"torch-linear-assignment": "0.1.0", "torch-lap-cuda": "0.0.3"}


_STUB_CPP_EXTENSION = '''\
"""Stub of torch.utils.cpp_extension for writing sdist metadata only (bench/peers/fetch.py)."""
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
echo "nvcc: stub for writing metadata only (bench/peers/fetch.py)"
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
                out[spec] = "FAILED: " + error_summary(proc.stdout + proc.stderr)
    return out


def sdist_name(path):
    """('torch-lap-cuda', '0.0.3') from 'torch_lap_cuda-0.0.3.tar.gz'."""
    stem = path.name
    for ext in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    name, _, version = stem.rpartition("-")
    return re.sub(r"[-_.]+", "-", name).lower(), version


def error_summary(log, lines=25):
    """The compiler's error lines first, then the end of the log."""
    rows = log.splitlines()
    errors = []
    for row in rows:
        if re.search(r"\berror\b|cannot find|undefined reference|No such file", row, re.I) and row not in errors:
            errors.append(row.strip())
    tail = [r for r in rows[-lines:] if r.strip()]
    return "\n".join(errors[:lines] + ["..."] + tail)
