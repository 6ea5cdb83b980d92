"""The figure of ``semrsm demo``, after Figure 1 of Wald et al. (NeurIPS 2024): per layer, the
spatio-semantic and the semantic RSM of the same crops side by side, and the distributions of their
values over overlapping and over unrelated pairs.

A reader has to see which crop is which: the crops are shown once in a strip on top, labelled by
photograph, again as thumbnails along both axes of every RSM, and lines separate the photographs'
blocks. The histograms leave out the diagonal (a crop against itself is 1 under every RSM), take
their bins from the values of the layer and show the share of pairs per bin; a lone tall bin (the
overlapping crops that the semantic RSM finds near-identical) is cut and labelled with its height,
so that it does not flatten the rest.
"""

from __future__ import annotations

import numpy as np

__all__ = ["demo_figure"]

_KINDS = ("spatio-semantic", "semantic")
_COLORS = {"spatio-semantic": "tab:blue", "semantic": "tab:red"}
#: Least and most bins of a histogram (numpy's "auto" rule picks between them): at least enough
#: that the overlapping pairs, packed close to 1 under the semantic RSM, spread over several.
_BINS = (24, 48)


def _group_bounds(group: np.ndarray):
    """(first, last) crop index of each photograph's block, in order."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ends = np.r_[starts[1:], len(group)] - 1
    return list(zip(starts, ends))


def _label(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else str(index)


def _thumbnails(crops: np.ndarray, pixels: int) -> np.ndarray:
    """Every crop (N, 3, size, size) as a ``pixels`` x ``pixels`` RGB image in [0, 1] (nearest
    sampling), (N, pixels, pixels, 3): one array, drawn with one imshow call per axis."""
    size = crops.shape[-1]
    pick = (np.arange(pixels) * size) // pixels
    return np.clip(crops[:, :, pick][:, :, :, pick].transpose(0, 2, 3, 1), 0.0, 1.0)


def _crop_strip(fig, spec, result):
    """All crops in a row, one panel per photograph, captioned with its letter and name, each crop
    with its label (A1, A2, ...)."""
    bounds = _group_bounds(result.group)
    size = result.crops.shape[-1]
    margin = max(1, size // 16)  # white between the crops of a panel
    panels = spec.subgridspec(1, len(bounds), wspace=0.05)
    for g, (first, last) in enumerate(bounds):
        count = last - first + 1
        strip = np.ones((size, count * (size + margin) - margin, 3))
        for k in range(count):
            strip[:, k * (size + margin):k * (size + margin) + size] = _thumbnails(result.crops[first + k:first + k + 1],
                                                                                   size)[0]
        ax = fig.add_subplot(panels[0, g])
        ax.imshow(strip, interpolation="nearest")
        ax.set_xticks([k * (size + margin) + size / 2 for k in range(count)],
                      [f"{_label(g)}{k + 1}" for k in range(count)], fontsize=8)
        ax.set_yticks([])
        ax.tick_params(length=0, pad=2)
        for side in ax.spines.values():
            side.set_visible(False)
        name = result.photographs[result.group[first]] if len(result.photographs) else ""
        ax.set_title(f"{_label(g)}: {name}", fontsize=9)


def _rsm_panel(ax, matrix, result, thumbs, low, title):
    """The RSM with a thumbnail of every crop left of its row and above its column, lines between
    photographs and their letters as ticks."""
    n = len(result.group)
    image = ax.imshow(matrix, cmap="viridis", vmin=low, vmax=1.0, interpolation="nearest",
                      extent=(-0.5, n - 0.5, n - 0.5, -0.5))
    gap = 0.2  # between the thumbnails and the matrix, in cells
    column = thumbs.reshape(-1, thumbs.shape[2], 3)                       # crops stacked downwards
    row = thumbs.transpose(1, 0, 2, 3).reshape(thumbs.shape[1], -1, 3)    # crops side by side
    ax.imshow(column, extent=(-1.5 - gap, -0.5 - gap, n - 0.5, -0.5), interpolation="nearest")
    ax.imshow(row, extent=(-0.5, n - 0.5, -0.5 - gap, -1.5 - gap), interpolation="nearest")
    bounds = _group_bounds(result.group)
    for first, _ in bounds[1:]:
        ax.plot([-1.5 - gap, n - 0.5], [first - 0.5] * 2, color="white", linewidth=1.5)
        ax.plot([first - 0.5] * 2, [-1.5 - gap, n - 0.5], color="white", linewidth=1.5)
    centres = [(first + last) / 2 for first, last in bounds]
    letters = [_label(g) for g in range(len(bounds))]
    ax.set_xticks(centres, letters, fontsize=8)
    ax.set_yticks(centres, letters, fontsize=8)
    ax.tick_params(length=0, pad=2)
    ax.set_xlim(-1.5 - gap, n - 0.5)
    ax.set_ylim(n - 0.5, -1.5 - gap)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=9)
    return image


#: A bin taller than this many times the next one is cut at 1.6 times that one and labelled with
#: its height, so that the rest of the histogram stays readable.
_CLIP_RATIO = 2.5


def _clip_tallest(ax, edges, heights, bins: int):
    """Cut the y axis below a lone tall bin (heights: every series' bins, one after the other)."""
    order = np.argsort(heights)
    tallest, second = heights[order[-1]], heights[order[-2]]
    if tallest <= _CLIP_RATIO * second:
        return
    top = 1.6 * second
    ax.set_ylim(0, top)
    b = order[-1] % bins
    ax.annotate(f"{tallest:.0f}%", ((edges[b] + edges[b + 1]) / 2, top), xytext=(0, -2),
                textcoords="offset points", ha="center", va="top", fontsize=8, weight="bold",
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8))


def _histograms(fig, spec, pair, group, name, scores):
    """One histogram per kind (spatio-semantic above, semantic below, one x axis): overlapping pairs
    filled, unrelated pairs as an outline, lines at their means, and the table's numbers."""
    same = group[:, None] == group[None, :]
    upper = np.triu(np.ones(same.shape, dtype=bool), k=1)  # distinct pairs, each once
    values = {kind: (m[same & upper], m[~same & upper]) for kind, m in zip(_KINDS, pair)}
    pooled = np.concatenate([v for both in values.values() for v in both])
    count = len(np.histogram_bin_edges(pooled, bins="auto")) - 1
    edges = np.linspace(pooled.min(), pooled.max(), int(np.clip(count, *_BINS)) + 1)
    cells = spec.subgridspec(2, 1, hspace=0.0)
    axes = []
    for row, kind in enumerate(_KINDS):
        ax = fig.add_subplot(cells[row, 0], sharex=axes[0] if axes else None)
        overlapping, unrelated = values[kind]
        color = _COLORS[kind]
        heights = []
        mean_style = {"overlapping": ("--", "dashed"), "unrelated": (":", "dotted")}
        for label, v, style in (("overlapping", overlapping, dict(alpha=0.6)),
                                ("unrelated", unrelated, dict(histtype="step", linewidth=1.6))):
            counts, _, _ = ax.hist(v, bins=edges, weights=np.full(v.size, 100.0 / v.size), color=color,
                                   label=f"{label} ({v.size} pairs; mean {mean_style[label][1]})", **style)
            heights.append(counts)
            ax.axvline(v.mean(), color=color, linestyle=mean_style[label][0], linewidth=1.2)
        _clip_tallest(ax, edges, np.concatenate(heights), len(edges) - 1)
        score = scores[name, kind]
        ax.text(0.02, 0.95, kind, transform=ax.transAxes, fontsize=9, va="top", color=color, weight="bold")
        ax.text(0.02, 0.52, f"gap {score.gap:.3f}\nordered {score.ordered:.3f}\nnearest {score.nearest:.3f}",
                transform=ax.transAxes, fontsize=8, va="top")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, 0.85), frameon=False)
        ax.set_ylabel("% of pairs", fontsize=8)
        ax.tick_params(labelsize=8)
        axes.append(ax)
    axes[0].tick_params(labelbottom=False)
    axes[0].set_title(f"{name}: every pair of distinct crops", fontsize=9)
    axes[1].set_xlabel("cosine similarity", fontsize=8)


def demo_figure(result, path: str) -> str:
    """Write the figure of a :class:`semrsm.demo.DemoResult` to ``path``; returns ``path``."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state touched

    rows = len(result.layers)
    fig = Figure(figsize=(14.0, 1.6 + 4.0 * rows), layout="constrained")
    grid = fig.add_gridspec(rows + 1, 1, height_ratios=[1.6] + [4.0] * rows)
    _crop_strip(fig, grid[0, 0], result)
    thumbs = _thumbnails(result.crops, 16)
    scores = {(s.layer, s.kind): s for s in result.scores()}
    for row, (name, s, c) in enumerate(result.layers):
        cells = grid[row + 1, 0].subgridspec(1, 4, width_ratios=[1.0, 1.0, 0.05, 1.45], wspace=0.08)
        pair = (result.baseline[name], result.semantic[name])
        low = min(float(m.min()) for m in pair)  # one colour scale for both RSMs of a layer
        for col, (kind, m) in enumerate(zip(_KINDS, pair)):
            image = _rsm_panel(fig.add_subplot(cells[0, col]), m, result, thumbs, low,
                               f"{name} ({s} positions x {c} channels): {kind}")
        fig.colorbar(image, cax=fig.add_subplot(cells[0, 2])).ax.tick_params(labelsize=8)
        _histograms(fig, cells[0, 3], pair, result.group, name, scores)
    first = _group_bounds(result.group)[0]
    fig.suptitle(f"Overlapping, shifted crops of the same photograph (A1-A{first[1] - first[0] + 1}, ...) form "
                 f"the blocks on the diagonal; lines separate the photographs", fontsize=11)
    fig.savefig(path, dpi=100)
    return path
