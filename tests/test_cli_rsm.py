"""``semrsm rsm`` end to end in a temporary folder, and its one-line errors."""

import numpy as np
import pytest

import semrsm
from semrsm.cli import main


@pytest.fixture
def layers(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.random((5, 4, 3, 3)).astype(np.float32)
    b = rng.random((5, 6, 8)).astype(np.float32)
    np.savez(tmp_path / "net.npz", conv=a, tokens=b)
    np.save(tmp_path / "one.npy", a)
    return tmp_path, a, b


def test_rsm_npz_with_baseline_and_plot(layers, capsys):
    folder, a, b = layers
    out, png = folder / "out.npz", folder / "rsm.png"
    assert main(["rsm", str(folder / "net.npz"), "-o", str(out), "--kernel", "cosine,rbf", "--baseline",
                 "--plot", str(png), "--no-progress"]) == 0
    with np.load(out) as got:
        assert sorted(got.files) == sorted(f"{layer}.{kind}.{k}" for layer in ("conv", "tokens")
                                           for kind in ("semantic", "baseline") for k in ("cosine", "rbf"))
        np.testing.assert_allclose(got["conv.semantic.cosine"], semrsm.semantic_rsm(a))
        np.testing.assert_allclose(got["tokens.semantic.rbf"], semrsm.semantic_rsm(b, kernel="rbf", layout="NTD"))
        np.testing.assert_allclose(got["conv.baseline.cosine"], semrsm.rsm(a))
    assert png.stat().st_size > 1000
    assert "wrote 8 RSM(s) of 2 layer(s)" in capsys.readouterr().out


def test_rsm_npy_batch_optimal(layers):
    folder, a, _ = layers
    out = folder / "one_out.npz"
    assert main(["rsm", str(folder / "one.npy"), "-o", str(out), "--matcher", "batch_optimal", "--window",
                 "4", "--kernel", "inner"]) == 0
    with np.load(out) as got:
        np.testing.assert_allclose(got["one.semantic.inner"],
                                   semrsm.semantic_rsm(a, kernel="inner", matcher="batch_optimal", window=4))


@pytest.mark.parametrize("make,argv_extra,message", [
    (None, [], "no such file"),
    (lambda p: np.save(p, np.ones((3, 2))), [], "must be 3-D"),
    (lambda p: np.save(p, np.full((3, 2, 2), np.nan)), [], "is nan"),
    (lambda p: np.save(p, np.ones((0, 2, 2))), [], "empty"),
    (lambda p: np.save(p, np.ones((3, 2, 2))), ["--kernel", "linear"], "unknown kernel"),
    (lambda p: open(p, "w").write("not an array"), [], "could not be read"),
])
def test_rsm_user_errors(tmp_path, capsys, make, argv_extra, message):
    path = tmp_path / "in.npy"
    if make is not None:
        make(path)
    assert main(["rsm", str(path), "-o", str(tmp_path / "o.npz")] + argv_extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_unknown_matcher_is_a_usage_error(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((3, 2, 2)))
    with pytest.raises(SystemExit) as exit_info:
        main(["rsm", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o.npz"), "--matcher", "hungarian"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
