"""``semrsm rsm --store``, ``semrsm store info`` and ``semrsm store export`` end to end, and their
one-line errors."""

import numpy as np
import pytest

from semrsm.cli import main
from semrsm.semantic import semantic_rsm

pytest.importorskip("zarr")
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def layer(tmp_path):
    x = np.maximum(np.random.default_rng(0).standard_normal((14, 4, 3, 3)), 0).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return tmp_path, x


def test_job_info_export_and_resume(layer, capsys):
    folder, x = layer
    store, out = str(folder / "s.zarr"), folder / "rsms.npz"
    assert main(["rsm", str(folder / "x.npy"), "--store", store, "--tile", "4", "--matcher", "batch_optimal",
                 "--window", "4", "--no-progress"]) == 0
    assert "10 of 10 tiles computed" in capsys.readouterr().out
    assert main(["store", "info", store]) == 0
    info = capsys.readouterr().out
    assert "10 of 10 tiles done" in info and '"matcher": "batch_optimal"' in info and "tile 4" in info
    assert main(["store", "export", store, "-o", str(out), "--kernel", "cosine,rbf", "--sigma", "authors"]) == 0
    with np.load(out) as got:
        reference = semantic_rsm(x, kernel=["cosine", "rbf"], sigma="authors", matcher="batch_optimal", window=4)
        assert sorted(got.files) == ["semantic.cosine", "semantic.rbf"]
        for kernel in ("cosine", "rbf"):
            assert np.array_equal(got[f"semantic.{kernel}"], reference[kernel])
    assert main(["rsm", str(folder / "x.npy"), "--store", store, "--tile", "4", "--matcher", "batch_optimal",
                 "--window", "4"]) == 2
    assert "already holds this job" in capsys.readouterr().err
    assert main(["rsm", str(folder / "x.npy"), "--store", store, "--tile", "4", "--matcher", "batch_optimal",
                 "--window", "4", "--resume", "--no-progress", "-o", str(out)]) == 0
    assert "0 of 10 tiles computed" in capsys.readouterr().out


def test_info_lists_missing_tiles(layer, capsys):
    folder, _ = layer
    store = folder / "s.zarr"
    assert main(["rsm", str(folder / "x.npy"), "--store", str(store), "--tile", "5", "--no-progress"]) == 0
    (store / "done" / "c" / "0" / "2").unlink()
    assert main(["store", "info", str(store)]) == 0
    out = capsys.readouterr().out
    assert "5 of 6 tiles done" in out and "missing   0,2" in out
    assert main(["store", "export", str(store), "-o", str(folder / "r.npz")]) == 2
    assert "1 of 6 tiles are missing" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["rsm", "{x}", "--store", "{d}/s.zarr", "--tile", "0"], "tile must be a positive integer"),
    (["rsm", "{x}", "-o", "{d}/o.npz", "--tile", "4"], "--tile applies to jobs with --store only"),
    (["rsm", "{x}", "--store", "{d}/s.zarr", "--plot", "{d}/p.png"], "--plot does not apply"),
    (["rsm", "{x}"], "give -o OUT.npz (or --store OUT.zarr"),
    (["store", "info", "{d}"], "is not a semrsm job store"),
    (["store", "export", "{d}/none.zarr", "-o", "{d}/o.npz"], "no such store"),
])
def test_one_line_errors(layer, capsys, argv, message):
    folder, _ = layer
    argv = [a.format(x=folder / "x.npy", d=folder) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
