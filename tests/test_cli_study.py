"""``semrsm study`` end to end in a temporary folder: table, figure, CSV, and the output checks made
before any work."""

import csv
import re

import numpy as np
import pytest

from semrsm.cli import main


@pytest.fixture
def layers(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "layers.npz"
    np.savez(path, conv=np.maximum(rng.standard_normal((8, 4, 5, 5)), 0).astype(np.float32),
             tokens=rng.standard_normal((8, 6, 3)).astype(np.float32))
    return path


def test_study_writes_the_figure_and_the_table(layers, tmp_path, capsys):
    figure, table = tmp_path / "study.png", tmp_path / "study.csv"
    assert main(["study", str(layers), "--matchers", "batch_optimal,greedy", "--windows", "4,8", "--pairs", "10",
                 "--repeats", "1", "--no-progress", "-o", str(figure), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "[1/2] layer 'conv'" in out and "[2/2] layer 'tokens'" in out
    assert f"wrote {table}, {figure}" in out
    assert figure.stat().st_size > 10_000
    with open(table) as handle:
        rows = list(csv.DictReader(handle))
    conv = [(r["matcher"], r["window"]) for r in rows if r["layer"] == "conv"]
    assert conv == [("hungarian", ""), ("exact", ""), ("batch_optimal", "4"), ("batch_optimal", "8"), ("greedy", "")]
    tokens = [r for r in rows if r["layer"] == "tokens"]
    assert {r["S"] for r in tokens} == {"6"} and {r["matcher"] for r in tokens} == {"hungarian", "exact", "batch_optimal",
                                                                                  "greedy"}
    assert all(float(r["quality_worst"]) <= 1 for r in rows)
    assert all(float(r["quality_worst"]) > 0 for r in rows if r["layer"] == "conv")  # ReLU features: 0 < obj <= opt


def test_study_without_outputs_or_baseline(layers, capsys):
    assert main(["study", str(layers), "--matchers", "greedy", "--pairs", "all", "--no-baseline", "--repeats", "1",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "wrote no files" in out and "exact matcher" in out
    assert not re.search(r"\bhungarian\b", out)  # no baseline row (the column vs_hungarian stays, empty)


@pytest.mark.parametrize("args, message", [
    (["-o", "{tmp}/study.txt"], "give a path ending in one of them"),
    (["-o", "{tmp}/missing/study.png"], "does not exist"),
    (["--csv", "{tmp}/study.png"], "is written as .csv"),
    (["--csv", "{tmp}"], "is written as .csv"),
    (["-o", "{tmp}/folder.png"], "is a folder"),
    (["--repeats", "0"], "--repeats must be at least 1"),
])
def test_outputs_are_checked_before_the_work(layers, tmp_path, capsys, args, message):
    (tmp_path / "folder.png").mkdir()
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["study", str(layers), *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "layer" not in captured.out  # no layer was studied


def test_bad_arguments_and_inputs(layers, tmp_path, capsys):
    for args in (["--matchers", "fast"], ["--windows", "a,b"], ["--pairs", "0"]):
        with pytest.raises(SystemExit):
            main(["study", str(layers), *args])
    assert main(["study", str(tmp_path / "none.npz")]) == 2
    bad = tmp_path / "bad.npz"
    np.savez(bad, one=np.ones((1, 2, 3, 3)))
    assert main(["study", str(bad), "--no-progress"]) == 2
    assert "layer 'one'" in capsys.readouterr().err
