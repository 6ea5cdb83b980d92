"""Figures: they draw what they are given, return the Figure and write files on request."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import semrsm
from semrsm import plot


def similarity():
    rng = np.random.default_rng(0)
    layers = {f"l{k}": rng.normal(size=(30, 4 + k)) for k in range(3)}
    return semrsm.similarity_matrix(layers, measure="linear_cka")


def test_similarity_heatmap_labels_and_file(tmp_path):
    sim = similarity()
    path = tmp_path / "heat.png"
    fig = plot.similarity_heatmap(sim, path=path)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["l0", "l1", "l2"]
    assert ax.get_title() == "linear_cka"
    assert len(ax.texts) == 9  # small matrices are annotated
    assert ax.images[0].get_array().shape == (3, 3)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_similarity_heatmap_of_a_plain_matrix_into_given_axes(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    values = np.random.default_rng(1).uniform(size=(20, 15))
    out = plot.similarity_heatmap(values, ax=ax, title="t", vmin=None, vmax=None, path=tmp_path / "h.svg")
    assert out is fig and ax.get_title() == "t" and not ax.texts  # large: not annotated
    assert (tmp_path / "h.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="2 row and 15 column labels"):
        plot.similarity_heatmap(values, labels_a=["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        plot.similarity_heatmap(np.ones(3))


def test_rsm_heatmap_panels():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(8, 8)), rng.uniform(size=(8, 8))
    fig = plot.rsm_heatmap({"semantic": a, "spatio-semantic": b}, suptitle="layer 3")
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["semantic", "spatio-semantic"]
    assert len(fig.axes) == 4  # two panels, two colour bars
    shared = plot.rsm_heatmap([a, b], shared_scale=True)
    clims = {ax.images[0].get_clim() for ax in shared.axes if ax.images}
    assert clims == {(min(a.min(), b.min()), max(a.max(), b.max()))}
    assert len(plot.rsm_heatmap(a).axes) == 2
    with pytest.raises(ValueError, match="1 titles for 2 RSMs"):
        plot.rsm_heatmap([a, b], titles=["x"])
    with pytest.raises(ValueError, match="no matrix"):
        plot.rsm_heatmap([])


def test_layer_profile(tmp_path):
    result = semrsm.KindComparison(("conv1", "conv2", "conv3"), np.array([0.9, 0.7, 0.4]), "cosine", None, False)
    fig = plot.layer_profile(result, path=tmp_path / "p.pdf")
    ax = fig.axes[0]
    assert list(ax.lines[0].get_ydata()) == [0.9, 0.7, 0.4]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "conv3"]
    assert "cosine" in ax.get_title()
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
    plot.layer_profile([0.5, 0.6, 0.2], ax=ax, label="other network")
    assert len(ax.lines) == 2 and ax.get_legend() is not None
    with pytest.raises(ValueError, match="2 labels for 3 values"):
        plot.layer_profile([1, 2, 3], labels=["a", "b"])


def test_rsm_heatmap_wraps_panels_into_rows():
    m = np.eye(4)
    fig = plot.rsm_heatmap([m, m, m], columns=2)
    fig.draw_without_rendering()
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3
    assert len({round(ax.get_position().y0, 3) for ax in shown}) == 2  # two rows
