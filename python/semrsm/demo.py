"""The built-in demonstration (``semrsm demo``): spatio-semantic vs semantic RSMs on real photographs.

Partially overlapping crops are cut from photographs bundled with scikit-image, passed through a
small random conv net (:mod:`semrsm.datasets`), and the RSMs of several layers are computed both
ways. Crops of the same photograph show the same things at different places: the semantic RSM,
which aligns positions before comparing, finds them similar; the spatio-semantic RSM, which compares
position by position, much less so. The figure follows Figure 1 of Wald et al. (2024): the two RSMs
side by side with histograms of overlapping and unrelated pairs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from .datasets import PHOTOGRAPHS, RandomConvNet, photographs
from .rsm import rsm
from .semantic import semantic_rsm

__all__ = ["DemoResult", "overlapping_crops", "run_demo", "format_table"]


@dataclass
class DemoResult:
    """What :func:`run_demo` computed: per layer, the spatio-semantic and semantic cosine RSMs."""

    group: np.ndarray                       # photograph of each crop
    layers: list = field(default_factory=list)  # (name, S, C)
    baseline: dict = field(default_factory=dict)  # layer name -> N x N
    semantic: dict = field(default_factory=dict)  # layer name -> N x N
    seconds: float = 0.0
    figure: str = ""

    def means(self):
        """Rows (layer, kind, mean over overlapping pairs, mean over unrelated pairs)."""
        same = self.group[:, None] == self.group[None, :]
        off = ~np.eye(len(self.group), dtype=bool)
        rows = []
        for name, _, _ in self.layers:
            for kind, rsms in (("spatio-semantic", self.baseline), ("semantic", self.semantic)):
                m = rsms[name]
                rows.append((name, kind, float(m[same & off].mean()), float(m[~same].mean())))
        return rows


def overlapping_crops(images: int = 6, per_image: int = 4, size: int = 64, seed: int = 0):
    """``per_image`` crops of ``size`` pixels from each of the first ``images`` bundled photographs.

    The crops of one photograph are shifted against each other by up to half their size in each
    direction, so every two of them overlap (by at least a quarter of their area) without being
    aligned. Returns crops (N, 3, size, size) float32 and the photograph of each crop (N,).
    """
    rng = np.random.default_rng(seed)
    crops, group = [], []
    for index, image in enumerate(photographs(PHOTOGRAPHS[:images])):
        reach = size + size // 2
        scale = max(1, int(np.ceil(reach / min(image.shape[:2]))))
        if scale > 1:
            image = np.kron(image, np.ones((scale, scale, 1), dtype=np.float32))
        top = int(rng.integers(image.shape[0] - reach + 1))
        left = int(rng.integers(image.shape[1] - reach + 1))
        for _ in range(per_image):
            dy, dx = rng.integers(0, size // 2 + 1, size=2)
            crop = image[top + dy:top + dy + size, left + dx:left + dx + size]
            crops.append(crop.transpose(2, 0, 1))
            group.append(index)
    return np.ascontiguousarray(np.stack(crops), dtype=np.float32), np.array(group)


def run_demo(out_dir: str = "semrsm-demo", *, images: int = 6, per_image: int = 4, size: int = 64,
             channels=(32, 64, 128, 256), first_layer: int = 1, matcher: str = "exact", seed: int = 0,
             threads=None, progress=None, plot: bool = True) -> DemoResult:
    """Run the demonstration; write ``rsms.npz`` and ``figure.png`` into ``out_dir``.

    Layers ``first_layer`` and up of a :class:`~semrsm.datasets.RandomConvNet` with ``channels``
    are compared (the first stage, at full resolution, has more positions than a demo should solve).
    """
    start = time.perf_counter()
    crops, group = overlapping_crops(images, per_image, size, seed)
    maps = RandomConvNet(channels, seed=seed)(crops)
    result = DemoResult(group=group)
    for k in range(first_layer, len(maps)):
        x = maps[k]
        name = f"layer{k + 1}"
        result.layers.append((name, x.shape[2] * x.shape[3], x.shape[1]))
        result.baseline[name] = rsm(x, kernel="cosine")
        result.semantic[name] = semantic_rsm(x, kernel="cosine", matcher=matcher, threads=threads,
                                             progress=progress)
    result.seconds = time.perf_counter() - start
    os.makedirs(out_dir, exist_ok=True)
    arrays = {"group": group}
    for name, _, _ in result.layers:
        arrays[f"{name}.spatio_semantic"] = result.baseline[name]
        arrays[f"{name}.semantic"] = result.semantic[name]
    np.savez(os.path.join(out_dir, "rsms.npz"), **arrays)
    if plot:
        result.figure = os.path.join(out_dir, "figure.png")
        demo_figure(result, result.figure)
    return result


def format_table(result: DemoResult) -> str:
    """The demo's table: mean cosine similarity of overlapping and unrelated crops."""
    lines = [f"{'layer':<8} {'S x C':>10}  {'RSM':<16} {'overlapping':>11} {'unrelated':>9} {'gap':>6}"]
    sizes = {name: f"{s} x {c}" for name, s, c in result.layers}
    for name, kind, same, other in result.means():
        lines.append(f"{name:<8} {sizes[name]:>10}  {kind:<16} {same:>11.3f} {other:>9.3f} {same - other:>6.3f}")
    return "\n".join(lines)


def _histogram(ax, rsms: dict, group: np.ndarray, title: str):
    same = group[:, None] == group[None, :]
    upper = np.triu(np.ones_like(same), k=1).astype(bool)
    low = min(float(m[upper].min()) for m in rsms)
    bins = np.linspace(min(low, 0.99), 1.0, 31)
    for kind, m, color in (("spatio-semantic", rsms[0], "tab:blue"), ("semantic", rsms[1], "tab:red")):
        ax.hist(m[same & upper], bins=bins, density=True, alpha=0.55, color=color, label=f"{kind}, overlapping")
        ax.hist(m[~same & upper], bins=bins, density=True, histtype="step", linewidth=1.5, color=color,
                label=f"{kind}, unrelated")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("cosine similarity", fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    ax.tick_params(labelsize=7)


def demo_figure(result: DemoResult, path: str) -> str:
    """Per layer: spatio-semantic RSM, semantic RSM (same colour scale), and their histograms."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state touched

    rows = len(result.layers)
    fig = Figure(figsize=(10.5, 3.1 * rows))
    axes = fig.subplots(rows, 3, squeeze=False)
    for row, (name, s, c) in enumerate(result.layers):
        pair = (result.baseline[name], result.semantic[name])
        low = min(float(m.min()) for m in pair)  # one colour scale for both RSMs of a layer
        for col, (kind, m) in enumerate(zip(("spatio-semantic", "semantic"), pair)):
            ax = axes[row, col]
            image = ax.imshow(m, cmap="viridis", vmin=low, vmax=1.0, interpolation="nearest")
            ax.set_title(f"{name} ({s} x {c}): {kind}", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        _histogram(axes[row, 2], pair, result.group, f"{name}: pairs of crops")
    axes[0, 2].legend(fontsize=6, loc="upper left")
    fig.suptitle("Crops of the same photograph (blocks on the diagonal) overlap but are shifted", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
