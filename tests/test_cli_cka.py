"""``semrsm cka`` and ``semrsm compare-kinds``."""

import numpy as np
import pytest

import semrsm
from semrsm.cli import main


@pytest.fixture
def networks(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))
    a, b = {}, {}
    for name in ("conv1", "conv2", "fc"):
        x = np.tanh(x @ rng.normal(size=(x.shape[1], 8)))
        a[name] = x
        b[name] = x @ rng.normal(size=(8, 8)) + 0.5 * rng.normal(size=x.shape)
    np.savez(tmp_path / "a.npz", **a)
    np.savez(tmp_path / "b.npz", **b)
    return tmp_path, a, b


def test_cka_table_heatmap_and_csv(networks, capsys):
    path, a, b = networks
    rc = main(["cka", str(path / "a.npz"), str(path / "b.npz"), "-o", str(path / "heat.png"),
               "--csv", str(path / "m.csv")])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.splitlines()[1].split() == ["conv1", "conv2", "fc"]
    assert f"{semrsm.linear_cka(a['conv2'], b['fc']):.3f}" in out.splitlines()[3]
    assert (path / "heat.png").stat().st_size > 1000
    rows = (path / "m.csv").read_text().splitlines()
    assert rows[0] == ",conv1,conv2,fc"
    assert float(rows[1].split(",")[2]) == pytest.approx(semrsm.linear_cka(a["conv1"], b["conv2"]), abs=1e-15)


def test_cka_measures_and_options(networks, capsys):
    path, a, b = networks
    assert main(["cka", str(path / "a.npz"), "--measure", "svcca", "--keep", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("svcca: rows") and "1.000" in out
    assert main(["cka", str(path / "a.npz"), str(path / "b.npz"), "--measure", "rbf_cka",
                 "--threshold", "0.5", "--debiased", "--csv", str(path / "r.csv")]) == 0
    assert "(debiased)" in capsys.readouterr().out
    value = float((path / "r.csv").read_text().splitlines()[1].split(",")[1])
    assert value == pytest.approx(semrsm.rbf_cka(a["conv1"], b["conv1"], threshold=0.5, debiased=True), abs=1e-15)


def test_cka_on_precomputed_rsms(networks, capsys):
    path, a, b = networks
    np.savez(path / "ra.npz", **{k: v @ v.T for k, v in a.items()})
    np.savez(path / "rb.npz", **{k: v @ v.T for k, v in b.items()})
    assert main(["cka", str(path / "ra.npz"), str(path / "rb.npz"), "--rsm", "--csv", str(path / "c.csv")]) == 0
    value = float((path / "c.csv").read_text().splitlines()[3].split(",")[3])
    assert value == pytest.approx(semrsm.linear_cka(a["fc"], b["fc"]), abs=1e-12)


@pytest.mark.parametrize("argv, message", [
    (["--rsm", "--measure", "linear_cka"], "--rsm takes precomputed RSMs"),
    (["--measure", "cka"], "add --rsm"),
    (["--keep", "0.9"], "--keep does not apply to --measure linear_cka"),
    (["--measure", "svcca", "--keep", "many"], None),  # argparse's own error
])
def test_cka_user_errors(networks, capsys, argv, message):
    path, _, _ = networks
    if message is None:
        with pytest.raises(SystemExit):
            main(["cka", str(path / "a.npz"), *argv])
        assert "--keep must be" in capsys.readouterr().err
        return
    assert main(["cka", str(path / "a.npz"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("semrsm cka: error: ") and message in err and err.count("\n") == 1


def test_cka_file_errors(networks, capsys):
    path, a, _ = networks
    assert main(["cka", str(path / "missing.npz")]) == 2
    assert "missing.npz" in capsys.readouterr().err
    (path / "garbage.npz").write_bytes(b"not an archive")
    assert main(["cka", str(path / "garbage.npz")]) == 2
    assert "is not a NumPy file" in capsys.readouterr().err
    (path / "cut.npz").write_bytes((path / "a.npz").read_bytes()[:200])  # a zip archive cut short
    assert main(["cka", str(path / "cut.npz")]) == 2
    assert "could not be read" in capsys.readouterr().err
    np.save(path / "one.npy", a["fc"])  # a single layer is a file too: its CKA with itself is 1
    assert main(["cka", str(path / "one.npy"), "--csv", str(path / "one.csv")]) == 0
    assert float((path / "one.csv").read_text().split()[-1].split(",")[-1]) == pytest.approx(1.0)
    np.savez(path / "short.npz", x=a["fc"], y=a["fc"][:-1])
    assert main(["cka", str(path / "short.npz")]) == 2
    assert "layer 'y' of A has N = 39" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["-o", "heat"], "-o heat: the file is written as .png"),
    (["--csv", "out.txt"], "--csv out.txt: the file is written as .csv"),
])
def test_cka_output_paths_checked_first(networks, capsys, argv, message):
    path, _, _ = networks
    assert main(["cka", str(path / "a.npz"), *argv]) == 2
    assert message in capsys.readouterr().err and not (path / "heat.png").exists()


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_compare_kinds_layers_of_every_shape(tmp_path, capsys):
    rng = np.random.default_rng(2)
    layers = {"conv": np.maximum(rng.normal(size=(8, 3, 3, 3)), 0), "tokens": rng.normal(size=(8, 5, 4)),
              "fc": rng.normal(size=(8, 6)), "bad": np.ones(8)}
    np.savez(tmp_path / "in.npz", **layers)
    assert main(["compare-kinds", str(tmp_path / "in.npz"), "--save-rsms", str(tmp_path / "r.npz")]) == 1
    captured = capsys.readouterr()
    assert "layer 'bad' skipped" in captured.err and "conv" in captured.out and "tokens" in captured.out
    saved = np.load(tmp_path / "r.npz")
    np.testing.assert_allclose(saved["tokens.semantic"], semrsm.semantic_rsm(layers["tokens"], layout="NTD"))
    # one position: both kinds of RSM are the same, and so their CKA is 1
    np.testing.assert_allclose(saved["fc.semantic"], saved["fc.spatio"], rtol=1e-12)
    with pytest.raises(SystemExit):  # --save-rsms must be an .npz: refused before any work
        main(["compare-kinds", str(tmp_path / "in.npz"), "--save-rsms", str(tmp_path / "r.out"), "--bogus"])
    assert main(["compare-kinds", str(tmp_path / "in.npz"), "--save-rsms", str(tmp_path / "r.out")]) == 2
    assert "--save-rsms" in capsys.readouterr().err and not (tmp_path / "r.out.npz").exists()


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_compare_kinds(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    layers = {"conv1": np.maximum(rng.normal(size=(10, 3, 3, 3)), 0), "conv2": rng.normal(size=(10, 4, 2, 2))}
    np.savez(tmp_path / "in.npz", **layers)
    rc = main(["compare-kinds", str(tmp_path / "in.npz"), "-o", str(tmp_path / "p.png"), "--kernel", "inner",
               "--save-rsms", str(tmp_path / "rsms.npz"), "--csv", str(tmp_path / "k.csv")])
    out = capsys.readouterr().out
    assert rc == 0 and "inner kernel" in out and "conv2" in out
    saved = np.load(tmp_path / "rsms.npz")
    assert sorted(saved.files) == ["conv1.semantic", "conv1.spatio", "conv2.semantic", "conv2.spatio"]
    value = float((tmp_path / "k.csv").read_text().splitlines()[2].split(",")[1])
    assert value == pytest.approx(semrsm.cka(saved["conv2.semantic"], saved["conv2.spatio"]))
    assert (tmp_path / "p.png").exists()


def test_cka_rbf_median_option(networks, capsys):
    path, a, b = networks
    for median in ("all", "distinct"):
        assert main(["cka", str(path / "a.npz"), str(path / "b.npz"), "--measure", "rbf_cka", "--median", median,
                     "--csv", str(path / f"{median}.csv")]) == 0
    capsys.readouterr()
    first = {m: float((path / f"{m}.csv").read_text().splitlines()[1].split(",")[1]) for m in ("all", "distinct")}
    label_a, label_b = next(iter(a)), next(iter(b))
    for median in ("all", "distinct"):
        assert first[median] == pytest.approx(semrsm.rbf_cka(a[label_a], b[label_b], median=median), abs=1e-12)
    assert main(["cka", str(path / "a.npz"), "--median", "all"]) == 2
    assert "--median does not apply to --measure linear_cka" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_compare_kinds_progress_counts_layers(tmp_path, capsys):
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "in.npz", a=rng.normal(size=(6, 2, 2, 2)), b=rng.normal(size=(6, 3, 2)))
    assert main(["compare-kinds", str(tmp_path / "in.npz"), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "2/2" in err and "layer/s" in err and "pair" not in err
