"""Figures of the analyses: the matcher study (quality and runtime per layer, as Fig. 5 of Wald et
al., 2024), retrieval F1@1 and the JSD correlations of semantic against spatio-semantic RSMs.

Like :mod:`semrsm.plot`, every function builds a ``matplotlib.figure.Figure`` without pyplot (no global
state, no window), writes it to ``path`` when one is given (format from the extension) and returns it.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ._table import Table

__all__ = ["jsd_figure", "retrieval_figure", "study_figure"]

#: Line and marker of each matcher family in the study's figure (colours tell the windows apart).
_FAMILY_STYLE = {"batch_optimal": ("-", "o"), "topk_greedy": ("--", "^"), "greedy": (":", "s"),
                 "auction": ("-.", "v"), "near_exact": ("-", "D")}
#: One colour per RSM kind throughout.
KIND_COLOURS = {"spatio-semantic": "tab:blue", "semantic": "tab:red"}


def _new_figure(size):
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def _label(matcher: str, window) -> str:
    if window is None:
        return matcher
    return f"{matcher} ({'k' if matcher == 'batch_optimal' else 'K'} = {window})"


def study_figure(table: Table, path=None, title: Optional[str] = None):
    """Matcher study (:func:`semrsm.analysis.matcher_study`): per layer, the quality of every
    approximation (median, with a bar down to the 5th percentile and a cross at the worst pair) and the
    time per pair of every method, the exact matcher and the Hungarian baseline included, on a log axis.

    Parameters
    ----------
    table : Table
        The study's table.
    path : str or path-like, optional
        Save the figure there.
    title : str, optional
        Over both panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    layers = list(dict.fromkeys(table["layer"]))
    sizes = {row["layer"]: row["S"] for row in table}
    ticks = [f"{name}\nS = {sizes[name]}" for name in layers]
    methods = list(dict.fromkeys((row["matcher"], row["window"]) for row in table))
    fig = _new_figure((11.0, 4.2))
    quality_ax, time_ax = fig.subplots(1, 2)
    colours = {method: f"C{k % 10}" for k, method in enumerate(methods)}
    approximations = [m for m in methods if m[0] not in ("hungarian", "exact")]
    spread = 0.5 / max(1, len(approximations))
    for k, method in enumerate(methods):
        rows = {row["layer"]: row for row in table if (row["matcher"], row["window"]) == method}
        xs = [i for i, name in enumerate(layers) if name in rows]
        at = [name for name in layers if name in rows]
        colour = colours[method]
        line, marker = _FAMILY_STYLE.get(method[0], ("-", "o"))
        if method in approximations:
            offset = (approximations.index(method) - (len(approximations) - 1) / 2) * spread
            median = np.array([rows[n]["quality_median"] for n in at])
            p5 = np.array([rows[n]["quality_p5"] for n in at])
            worst = np.array([rows[n]["quality_worst"] for n in at])
            x = np.array(xs) + offset
            quality_ax.errorbar(x, median, yerr=[median - p5, np.zeros_like(median)], marker=marker, capsize=2,
                                color=colour, label=_label(*method), linewidth=1, linestyle=line)
            quality_ax.plot(x, worst, "x", color=colour, markersize=5)
        style = {"hungarian": ("k", "s", "--"), "exact": ("0.35", "D", "-")}.get(method[0], (colour, marker, line))
        time_ax.plot(xs, [rows[n]["ms_per_pair"] for n in at], marker=style[1], linestyle=style[2], color=style[0],
                     label="Hungarian (scipy, per pair)" if method[0] == "hungarian" else _label(*method))
    for ax in (quality_ax, time_ax):
        ax.set_xticks(range(len(layers)), ticks, fontsize=8)
        ax.set_xlim(-0.5, len(layers) - 0.5)
        ax.grid(alpha=0.3)
    quality_ax.axhline(1.0, color="0.5", linewidth=0.8)
    quality_ax.set_ylabel("quality = objective / optimum")
    quality_ax.set_title("matching quality (median, bar to 5th percentile, x = worst)", fontsize=9)
    if approximations:
        quality_ax.legend(fontsize=7, loc="lower left")
    time_ax.set_yscale("log")
    time_ax.set_ylabel("ms per pair")
    time_ax.set_title("runtime per pair", fontsize=9)
    time_ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    return _finish(fig, path)


def _grouped_bars(ax, table: Table, groups: Sequence[tuple], columns: dict, ylabel: str):
    """Bars per (layer, kernel) group, one per RSM kind: ``columns`` kind -> column of ``table``."""
    width = 0.8 / len(columns)
    for k, (kind, column) in enumerate(columns.items()):
        values = [next(row[column] for row in table if (row["layer"], row["kernel"]) == group) for group in groups]
        ax.bar(np.arange(len(groups)) + (k - (len(columns) - 1) / 2) * width, values, width,
               color=KIND_COLOURS[kind], label=kind)
    ax.set_xticks(range(len(groups)), [f"{layer}\n{kernel}" for layer, kernel in groups], fontsize=7)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


def _show(ax, image: np.ndarray, title: str, colour: str = "black"):
    picture = np.clip(image.transpose(1, 2, 0), 0, 1) if image.shape[0] == 3 else image[0]
    ax.imshow(picture, cmap=None if image.shape[0] == 3 else "gray", interpolation="nearest")
    ax.set_title(title, fontsize=6.5, color=colour)
    ax.set_xticks([]), ax.set_yticks([])


def retrieval_figure(table: Table, images: np.ndarray, labels: Sequence, neighbours: dict, queries: Sequence[int],
                     chance: float, examples_title: str = "nearest scene by each RSM", path=None):
    """Retrieval: F1@1 per layer and kernel for both RSM kinds, and example queries with the scene each
    RSM retrieves.

    Parameters
    ----------
    table : Table
        Columns layer, kernel, f1_spatio_semantic, f1_semantic.
    images : ndarray, shape (N, 3, H, W)
    labels : sequence of sets
    neighbours : dict
        RSM kind -> (N,) index of the scene retrieved for each query.
    queries : sequence of int
        Queries to show.
    chance : float
        F1 of retrieving a random other scene, drawn as a line.
    examples_title : str
        Title over the examples.
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _new_figure((12.0, 4.6))
    left, right = fig.subfigures(1, 2, width_ratios=(1.15, 1.0))
    ax = left.subplots()
    groups = list(dict.fromkeys((row["layer"], row["kernel"]) for row in table))
    _grouped_bars(ax, table, groups, {"spatio-semantic": "f1_spatio_semantic", "semantic": "f1_semantic"}, "F1@1")
    ax.axhline(chance, color="0.3", linestyle=":", linewidth=1, label=f"chance ({chance:.2f})")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("retrieval of scenes by the objects they show", fontsize=9)
    queries = list(queries)
    grid = right.subplots(len(queries), 3, squeeze=False)
    for row, query in enumerate(queries):
        _show(grid[row, 0], images[query], "query: " + ", ".join(sorted(labels[query])))
        for col, kind in enumerate(("semantic", "spatio-semantic"), start=1):
            found = int(neighbours[kind][query])
            shared = labels[found] & labels[query]
            _show(grid[row, col], images[found], f"{kind}: " + ", ".join(sorted(labels[found])),
                  KIND_COLOURS[kind] if shared else "0.4")
    right.suptitle(examples_title, fontsize=9)
    return _finish(fig, path)


def jsd_figure(table: Table, scatter: dict, scatter_title: str, path=None):
    """JSD analysis: Spearman correlation of each layer's RSMs with the JSD of the predictions, per
    kernel and RSM kind, and the JSD against the RSM entries of one layer.

    Parameters
    ----------
    table : Table
        Columns layer, kernel, spearman_spatio_semantic, spearman_semantic.
    scatter : dict
        RSM kind -> (rsm entries i < j, JSD of the same pairs), drawn as the mean JSD per twentieth of
        the pairs ranked by the RSM.
    scatter_title : str
    path : str or path-like, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _new_figure((11.0, 4.2))
    bars, points = fig.subplots(1, 2, width_ratios=(1.3, 1.0))
    groups = list(dict.fromkeys((row["layer"], row["kernel"]) for row in table))
    _grouped_bars(bars, table, groups, {"spatio-semantic": "spearman_spatio_semantic",
                                        "semantic": "spearman_semantic"}, "Spearman rho (RSM vs JSD)")
    bars.axhline(0, color="0.3", linewidth=0.8)
    bars.set_ylim(-1, 1)
    bars.legend(fontsize=7, loc="upper left")
    bars.set_title("agreement with the predictions: more negative is better", fontsize=9)
    bins = 20
    for kind, (similarity, divergence) in scatter.items():
        # Mean JSD per twentieth of the RSM's entries by rank: the two RSMs span different ranges of
        # values, their ranks compare directly (and are what Spearman's rho correlates).
        ranks = np.argsort(np.argsort(similarity, kind="stable"), kind="stable")
        which = np.minimum(bins - 1, ranks * bins // len(ranks))
        means = np.bincount(which, weights=divergence, minlength=bins) / np.maximum(1, np.bincount(which, minlength=bins))
        points.plot((np.arange(bins) + 0.5) * 100 / bins, means, marker="o", markersize=3, color=KIND_COLOURS[kind],
                    label=kind)
    points.set_xlabel("RSM entry (cosine), percentile among the pairs")
    points.set_ylabel("mean JSD of the predictions (bits)")
    points.set_ylim(bottom=0)
    points.set_title(scatter_title, fontsize=9)
    points.legend(fontsize=7)
    points.grid(alpha=0.3)
    return _finish(fig, path)
