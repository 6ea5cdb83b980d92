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
    (lambda p: np.save(p, np.ones(3)), [], "a layer is (N, C, H, W)"),
    (lambda p: np.save(p, np.ones((3, 2, 2, 2))), ["--layout", "NTD"], "leave --layout out"),
    (lambda p: np.save(p, np.full((3, 2, 2), np.nan)), [], "is nan"),
    (lambda p: np.save(p, np.ones((0, 2, 2))), [], "empty"),
    (lambda p: np.save(p, np.ones((3, 2, 2))), ["--kernel", "linear"], "unknown kernel"),
    (lambda p: open(p, "w").write("not an array"), [], "is not a NumPy file"),
    (lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), [], "holds Python objects"),
    (lambda p: np.save(p, np.ones((3, 2, 2))), ["--topk", "3"], "--topk applies to --matcher topk_greedy only"),
    (lambda p: np.save(p, np.ones((3, 2, 2))), ["--window", "3"], "--window applies to --matcher batch_optimal"),
    (lambda p: np.save(p, np.ones((3, 2, 2))), ["--sigma", "1"], "--sigma applies to the rbf kernel only"),
])
def test_rsm_user_errors(tmp_path, capsys, make, argv_extra, message):
    path = tmp_path / "in.npy"
    if make is not None:
        make(path)
    assert main(["rsm", str(path), "-o", str(tmp_path / "o.npz")] + argv_extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("output,plot,message", [
    ("x.txt", None, "-o x.txt: the file is written as .npz"),
    ("nodir/x.npz", None, "does not exist"),
    ("o.npz", "p.xyz", "--plot p.xyz: the file is written as .png"),
    ("o.npz", "nodir/p.png", "does not exist"),
])
def test_output_paths_are_checked_before_the_work(tmp_path, capsys, monkeypatch, output, plot, message):
    np.save(tmp_path / "x.npy", np.ones((3, 2, 2)))
    monkeypatch.chdir(tmp_path)
    computed = []
    monkeypatch.setattr("semrsm.cli.rsm.semantic_rsm", lambda *a, **k: computed.append(1))
    argv = ["rsm", "x.npy", "-o", output] + (["--plot", plot] if plot else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and not computed and not list(tmp_path.glob("*.npz"))


def test_a_failing_layer_keeps_the_others(tmp_path, capsys):
    rng = np.random.default_rng(1)
    conv, fc = rng.random((5, 4, 3, 3)), rng.random((5, 7))
    np.savez(tmp_path / "net.npz", conv=conv, bad=np.full((5, 3, 2), np.inf), fc=fc)
    out = tmp_path / "out.npz"
    assert main(["rsm", str(tmp_path / "net.npz"), "-o", str(out), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "layer 'bad' skipped" in captured.err and "is inf" in captured.err
    assert "wrote 2 RSM(s) of 2 layer(s)" in captured.out and "1 layer(s) failed" in captured.out
    with np.load(out) as got:
        assert sorted(got.files) == ["conv.semantic.cosine", "fc.semantic.cosine"]
        np.testing.assert_allclose(got["conv.semantic.cosine"], semrsm.semantic_rsm(conv))
        # A fully connected layer has one position: its semantic RSM is the spatio-semantic one.
        np.testing.assert_allclose(got["fc.semantic.cosine"], semrsm.rsm(fc), rtol=1e-12)


def test_unknown_matcher_is_a_usage_error(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((3, 2, 2)))
    with pytest.raises(SystemExit) as exit_info:
        main(["rsm", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o.npz"), "--matcher", "hungarian"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_reference_options_reach_the_library(tmp_path):
    x = np.random.default_rng(4).random((6, 5, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "o.npz"
    assert main(["rsm", str(tmp_path / "x.npy"), "-o", str(out), "--kernel", "rbf", "--sigma", "authors",
                 "--matcher", "batch_optimal", "--window", "2", "--partial-window", "smallest", "--no-progress"]) == 0
    with np.load(out) as got:
        np.testing.assert_array_equal(got["x.semantic.rbf"], semrsm.semantic_rsm(
            x, kernel="rbf", sigma="authors", matcher="batch_optimal", window=2, partial_window="smallest"))
    with pytest.raises(SystemExit):
        main(["rsm", str(tmp_path / "x.npy"), "-o", str(out), "--sigma", "widest"])
