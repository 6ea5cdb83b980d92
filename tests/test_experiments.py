"""The reproductions in a reduced size (``semrsm demo --experiment ... --quick``), end to end in a
temporary folder, and the pieces they are made of: composed scenes, rendered digits, and the NumPy
classifier's gradients against finite differences."""

import csv

import numpy as np
import pytest

from semrsm.analysis import experiments
from semrsm.analysis._convnet import TinyConvNet
from semrsm.analysis._digits import digit_canvases, glyphs
from semrsm.analysis._scenes import OBJECTS, compose_scenes
from semrsm.cli import main


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_retrieval_command(tmp_path, capsys):
    assert main(["demo", "--experiment", "retrieval", "--quick", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "F1@1" in out and "The semantic RSM has the better F1@1 in" in out
    assert (tmp_path / "retrieval.png").stat().st_size > 20_000
    rows = read_csv(tmp_path / "retrieval.csv")
    assert [(r["layer"], r["kernel"]) for r in rows] == [(layer, kernel) for layer in ("layer3", "layer4")
                                                         for kernel in ("inner", "cosine", "rbf")]
    for row in rows:
        assert 0 <= float(row["f1_semantic"]) <= 1 and 0 <= float(row["f1_spatio_semantic"]) <= 1
        assert float(row["difference"]) == pytest.approx(float(row["f1_semantic"]) - float(row["f1_spatio_semantic"]))


def test_jsd_command(tmp_path, capsys):
    assert main(["demo", "--experiment", "jsd", "--quick", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and (tmp_path / "jsd.png").stat().st_size > 20_000
    rows = read_csv(tmp_path / "jsd.csv")
    assert [r["layer"] for r in rows] == [layer for layer in TinyConvNet.LAYERS for _ in range(3)]
    assert all(-1 <= float(r[c]) <= 1 for r in rows for c in r if c.startswith(("pearson", "spearman")))


def test_matchers_command(tmp_path, capsys):
    assert main(["demo", "--experiment", "matchers", "--quick", "-o", str(tmp_path)]) == 0
    assert "faster than the Hungarian baseline" in capsys.readouterr().out
    rows = read_csv(tmp_path / "matchers.csv")
    assert {r["matcher"] for r in rows} == {"hungarian", "exact", "near_exact", "batch_optimal", "topk_greedy", "greedy"}
    assert (tmp_path / "matchers.png").exists()


def test_experiment_results_are_what_was_written(tmp_path):
    result = experiments.retrieval_experiment(str(tmp_path), plot=False, progress=False,
                                              **experiments.QUICK["retrieval"])
    assert result.figure == "" and not (tmp_path / "retrieval.png").exists()
    assert len(read_csv(result.csv)) == len(result.table) and result.seconds > 0


def test_scenes():
    scenes, labels = compose_scenes(12, size=40, object_size=(10, 14), seed=4)
    assert scenes.shape == (12, 3, 40, 40) and scenes.dtype == np.float32
    assert 0 <= scenes.min() and scenes.max() <= 1
    assert all(1 <= len(item) <= 3 and item <= set(OBJECTS) for item in labels)
    again, same = compose_scenes(12, size=40, object_size=(10, 14), seed=4)
    np.testing.assert_array_equal(scenes, again)
    assert labels == same


def test_glyphs_keep_their_counters():
    shapes = glyphs(16, fonts=("DejaVuSans.ttf",))
    assert shapes.shape == (1, 10, 16, 16) and 0 <= shapes.min() and shapes.max() <= 1
    zero, one = shapes[0, 0], shapes[0, 1]
    assert zero[8, 8] < 0.1 and zero[8, 4] > 0.5 and zero[8, 12] > 0.5  # a ring: empty inside, ink on its sides
    assert zero.sum() > one.sum()
    images, digits = digit_canvases(20, canvas=24, glyph_size=12, seed=1)
    assert images.shape == (20, 1, 24, 24) and set(digits) <= set(range(10))


def test_classifier_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    net = TinyConvNet((1, 3, 4, 4), classes=3, seed=2)
    for name in net.params:  # float64 for a sharp finite-difference check
        net.params[name] = net.params[name].astype(np.float64) + 0.05 * rng.standard_normal(net.params[name].shape)
    x = rng.random((3, 1, 8, 8))
    labels = np.array([0, 2, 1])
    _, grads = net._gradients(x, labels)
    for name in ("w0", "b1", "w2", "w_out"):
        param = net.params[name].reshape(-1)
        for index in rng.choice(param.size, size=min(5, param.size), replace=False):
            saved = param[index]
            param[index] = saved + 1e-6
            up = net._gradients(x, labels)[0]
            param[index] = saved - 1e-6
            down = net._gradients(x, labels)[0]
            param[index] = saved
            assert grads[name].reshape(-1)[index] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-7), name


def test_classifier_learns():
    images, digits = digit_canvases(300, canvas=16, glyph_size=10, seed=0)
    net = TinyConvNet((1, 4, 8, 8), seed=0)
    history = net.fit(images, digits, epochs=3, batch_size=50, learning_rate=1e-2)
    assert history[-1] < history[0]
    features = net.features(images[:7])
    assert features["block1"].shape == (7, 4, 8, 8) and features["block3"].shape == (7, 8, 4, 4)
    np.testing.assert_allclose(features["probs"].sum(axis=1), 1.0)
