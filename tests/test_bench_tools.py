"""The GPU validation script (bench/gpu_check.sh) in its dry run, and the logic of the GPU peers'
benchmark (bench/peers/) that runs without a GPU: the source patch for CUDA 13, the objective
check, which cases a slow solver skips."""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from peers.adapters import compare
from peers.build import patch_cub_functors
from peers.worker import dominates

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.sh"

needs_shell = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("timeout")),
                                 reason="needs bash and coreutils' timeout")


def summary_rows(text):
    """step -> (status, detail) from the table of summary.md."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] not in ("step", "---"):
            rows[cells[0]] = (cells[1], cells[5])
    return rows


@needs_shell
def test_dry_run_reports_every_step_and_survives_a_hung_one(tmp_path):
    out, peers = tmp_path / "out", tmp_path / "no-sdists"
    peers.mkdir()
    env = dict(os.environ, PYTHON=sys.executable, GPU_CHECK_LIMIT_TESTS="1",
               GPU_CHECK_STEPS="environment,build,import,tests,memcheck-lap,peers-build,bench,peers")
    proc = subprocess.run(["bash", str(SCRIPT), "--dry-run", str(out), str(peers)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    summary = (out / "summary.md").read_text()
    assert proc.stdout.endswith(summary)
    rows = summary_rows(summary)
    assert list(rows) == ["environment", "build", "import", "tests", "memcheck-lap", "memcheck-semantic",
                          "peers-build", "bench", "peers"]
    # one second is not enough for pytest to collect the suite: the step is ended, the rest runs
    assert rows["tests"][0] == "timed out"
    for step in ("environment", "import", "memcheck-lap", "bench"):
        assert rows[step][0] == "passed", (step, rows[step])
    # pip reads the project where its build requirements are installed; an installed wheel has none
    assert "Would install semrsm" in rows["build"][1] if rows["build"][0] == "passed" else \
        rows["build"] == ("skipped", "dry run: scikit-build-core or pybind11 not installed here")
    assert "no test ran" in rows["memcheck-lap"][1]
    assert rows["memcheck-semantic"] == ("skipped", "not selected (GPU_CHECK_STEPS)")
    assert rows["peers-build"] == ("skipped", f"no sdists in {peers}")
    assert rows["peers"][0] == "skipped"
    logs = sorted(p.name for p in out.glob("*.log"))
    assert set(logs) - {"02-build.log"} == {"01-environment.log", "03-import.log", "04-tests.log",
                                            "05-memcheck-lap.log", "08-bench.log"}
    assert (out / "04-tests.log").read_text().startswith("$ ")
    assert "1 timed out" in summary and "dry run" in summary
    assert proc.returncode == 1  # a step timed out


@needs_shell
def test_usage_errors(tmp_path):
    for args in ([], ["--dry-run"], [str(tmp_path), str(tmp_path / "missing")]):
        proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2
        assert "usage" in proc.stderr or "is not a folder" in proc.stderr


def test_cub_patch_replaces_the_removed_functors(tmp_path):
    source = tmp_path / "pkg" / "kernel.cu"
    source.parent.mkdir()
    source.write_text("#include <cub/cub.cuh>\nauto m = reduce(x, cub::Max()); auto n = reduce(x, cub::Min());\n")
    (tmp_path / "pkg" / "other.cu").write_text("int untouched;\n")
    assert patch_cub_functors(tmp_path) == [str(pathlib.Path("pkg", "kernel.cu"))]
    text = source.read_text()
    assert "cub::Max()" not in text and "cub::Min()" not in text
    assert text.index("struct GpuPeersMax") > text.index("#include <cub/cub.cuh>")
    assert "reduce(x, GpuPeersMax())" in text and "reduce(x, GpuPeersMin())" in text
    assert (tmp_path / "pkg" / "other.cu").read_text() == "int untouched;\n"


def test_compare_counts_worse_better_and_invalid():
    ref = np.array([10.0, 10.0, 10.0, -5.0, 0.0])
    obj = np.array([10.0, 10.0 + 1e-3, 10.0 - 1e-3, -5.0 * (1 + 1e-7), 7.0])
    valid = np.array([True, True, True, True, False])
    check = compare(obj, valid, ref)
    assert check == {"problems": 5, "invalid": 1, "worse": 1, "better": 1,
                     "max_rel_gap": pytest.approx(1e-4)}


def test_a_slow_case_skips_only_harder_ones():
    slow = "uniform-256x512"
    assert dominates(slow, "semantic-16x1024")      # larger n
    assert dominates(slow, "uniform-1000x512")      # same n, larger batch
    assert dominates(slow, "uniform-256x512")
    assert not dominates(slow, "uniform-100000x64")  # smaller n, however large the batch
    assert not dominates(slow, "uniform-16x512")
