"""matcher_study: its qualities against objective / optimum computed independently (the RSM of each
matcher, scipy's optimum), its rows, its errors; the Table it returns; its figure."""

import csv

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import semrsm
from semrsm.analysis import Table, hungarian_objectives, matcher_study, study_figure
from semrsm.analysis.study import COLUMNS
from semrsm.semantic import sample_pairs


@pytest.fixture(scope="module")
def layer():
    rng = np.random.default_rng(3)
    x = np.maximum(rng.standard_normal((10, 6, 5, 5)), 0) * rng.uniform(0.3, 2.0, size=(10, 1, 5, 5))
    return x.astype(np.float32)  # (N, C, H, W): S = 25


def test_qualities_are_objective_over_the_optimum(layer):
    table = matcher_study(layer, matchers=["batch_optimal", "greedy", "topk_greedy"], windows=[4, 8, 64],
                          pairs=20, seed=5, progress=False, repeats=1)
    pairs = sample_pairs(10, 10, True, 20, seed=5)
    i, j = pairs[:, 0], pairs[:, 1]
    xs = layer.reshape(10, 6, 25).transpose(0, 2, 1).astype(np.float64)
    optimum = np.array([xs[a][r] .ravel() @ xs[b][c].ravel() for a, b in zip(i, j)
                        for r, c in [linear_sum_assignment(xs[a] @ xs[b].T, maximize=True)]])
    methods = [(row["matcher"], row["window"]) for row in table]
    assert methods == [("hungarian", None), ("exact", None), ("batch_optimal", 4), ("batch_optimal", 8),
                       ("greedy", None), ("topk_greedy", 4), ("topk_greedy", 8)]  # window 64 >= S: left out
    for row in table:
        matcher, window = row["matcher"], row["window"]
        if matcher == "hungarian":
            objective = optimum
        else:
            options = {"window": window} if matcher == "batch_optimal" else {"topk": window} if window else {}
            rsm = semrsm.semantic_rsm(layer, kernel="inner", matcher=matcher, progress=False, **options)
            objective = rsm[i, j]
        quality = np.minimum(objective / optimum, 1.0)
        assert row["quality_median"] == pytest.approx(np.median(quality), abs=1e-6), row
        assert row["quality_p5"] == pytest.approx(np.quantile(quality, 0.05), abs=1e-6), row
        assert row["quality_worst"] == pytest.approx(quality.min(), abs=1e-6), row
        assert row["pairs"] == 20 and row["S"] == 25 and row["C"] == 6 and row["layer"] == "x"
        assert row["ms_per_pair"] > 0 and row["pairs_per_s"] == pytest.approx(1e3 / row["ms_per_pair"])
    exact, hungarian = table.where(matcher="exact"), table.where(matcher="hungarian")
    assert exact["quality_worst"][0] == pytest.approx(1.0, abs=1e-6)
    assert exact["vs_exact"][0] == pytest.approx(1.0) and hungarian["vs_hungarian"][0] == pytest.approx(1.0)
    greedy = table.where(matcher="greedy").rows[0]
    assert dict(zip(COLUMNS, greedy))["vs_exact"] == pytest.approx(exact["ms_per_pair"][0] / greedy[9])


def test_hungarian_objectives_are_scipy_optima(rng):
    xs = rng.standard_normal((4, 7, 3)).astype(np.float32)
    pairs = np.array([[0, 1], [2, 3], [1, 1]])
    got = hungarian_objectives(xs, xs, pairs)
    for k, (a, b) in enumerate(pairs):
        r, c = linear_sum_assignment(xs[a].astype(np.float64) @ xs[b].T.astype(np.float64), maximize=True)
        assert got[k] == pytest.approx((xs[a][r].astype(np.float64) * xs[b][c]).sum(), rel=1e-6)


def test_layers_all_pairs_and_no_baseline(layer):
    table = matcher_study({"first": layer, "second": layer[:, :, :4, :4]}, matchers="greedy", pairs=None,
                          baseline=False, progress=False, repeats=1)
    assert list(dict.fromkeys(table["layer"])) == ["first", "second"]
    assert set(table["matcher"]) == {"exact", "greedy"} and (table["pairs"] == 45).all()
    assert np.isnan(table["vs_hungarian"]).all() and "exact matcher" in table.title


@pytest.mark.parametrize("kwargs, error, match", [
    ({"matchers": ["nope"]}, ValueError, "unknown matcher"),
    ({"windows": [0]}, ValueError, "window"),
    ({"windows": []}, ValueError, "windows is empty"),
    ({"pairs": 0}, ValueError, "pairs"),
    ({"layout": "NHWC"}, ValueError, "layout"),
    ({"progress": "yes"}, ValueError, "progress"),
])
def test_bad_options(layer, kwargs, error, match):
    with pytest.raises(error, match=match):
        matcher_study(layer, **kwargs)


def test_bad_layers(layer):
    with pytest.raises(ValueError, match="at least 2"):
        matcher_study(layer[:1], progress=False)
    with pytest.raises(ValueError, match="finite"):
        bad = layer.copy()
        bad[2, 0, 0, 0] = np.nan
        matcher_study(bad, progress=False)
    with pytest.raises(ValueError, match="no layers"):
        matcher_study({})


def test_table(tmp_path):
    table = Table(("name", "value", "extra"), [("a", 0.5, None), ("bb", 1.25, 3)], {"value": ".2f"}, "T")
    assert len(table) == 2 and list(table)[1] == {"name": "bb", "value": 1.25, "extra": 3}
    np.testing.assert_array_equal(table["value"], [0.5, 1.25])
    assert np.isnan(table["extra"][0]) and table["name"].dtype == object
    assert table.format().splitlines() == ["T", "name  value  extra", "a      0.50      -", "bb     1.25      3"]
    assert table.format(markdown=True).splitlines()[1:3] == ["| name | value | extra |", "|---|---|---|"]
    assert table.where(name="bb").rows == (("bb", 1.25, 3),)
    path = table.to_csv(tmp_path / "t.csv")
    with open(path) as handle:
        assert list(csv.reader(handle)) == [["name", "value", "extra"], ["a", "0.5", ""], ["bb", "1.25", "3"]]
    assert len(Table.concat([table, table])) == 4
    with pytest.raises(KeyError, match="no column 'nope'"):
        table["nope"]
    with pytest.raises(ValueError, match="a row of 1 values"):
        Table(("a", "b"), [(1,)])
    with pytest.raises(ValueError, match="different columns"):
        Table.concat([table, Table(("x",), [])])


def test_study_figure(layer, tmp_path):
    table = matcher_study({"a": layer, "b": layer[:, :, :3, :3]}, windows=[4], pairs=5, progress=False, repeats=1)
    fig = study_figure(table, path=tmp_path / "study.png", title="t")
    assert (tmp_path / "study.png").stat().st_size > 10_000
    quality, runtime = fig.axes[:2]
    assert runtime.get_yscale() == "log" and len(runtime.get_lines()) == 6  # hungarian, exact, 4 approximations
