"""The built-in demonstration (``semrsm demo``): spatio-semantic vs semantic RSMs on real photographs.

Partially overlapping crops are cut from photographs bundled with scikit-image, passed through a
small random conv net (:mod:`semrsm.datasets`), and the RSMs of several layers are computed both
ways. Crops of the same photograph show the same things at different places: the semantic RSM,
which aligns positions before comparing, finds them similar; the spatio-semantic RSM, which compares
position by position, much less so. The figure follows Figure 1 of Wald et al. (2024): the two RSMs
side by side with histograms of overlapping and unrelated pairs (:mod:`semrsm._demo_figure`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ._demo_figure import demo_figure
from .datasets import PHOTOGRAPHS, RandomConvNet, photographs
from .rsm import rsm
from .semantic import semantic_rsm

__all__ = ["DemoResult", "Score", "overlapping_crops", "run_demo", "format_table", "conclusion"]


#: Random places tried per photograph; the crops are cut at the most varied of them, so that
#: shifted views differ position by position (a flat patch of sky looks the same however shifted).
_PLACES_TRIED = 16


@dataclass
class DemoResult:
    """What :func:`run_demo` computed: per layer, the spatio-semantic and semantic cosine RSMs."""

    group: np.ndarray                       # photograph of each crop
    crops: np.ndarray = None                # (N, 3, size, size) float32 in [0, 1]
    photographs: tuple = ()                 # name of each photograph (group index -> name)
    layers: list = field(default_factory=list)  # (name, S, C)
    baseline: dict = field(default_factory=dict)  # layer name -> N x N
    semantic: dict = field(default_factory=dict)  # layer name -> N x N
    seconds: float = 0.0
    figure: str = ""

    def scores(self) -> list:
        """One :class:`Score` per layer and kind of RSM, spatio-semantic first."""
        same = self.group[:, None] == self.group[None, :]
        upper = np.triu(np.ones(same.shape, dtype=bool), k=1)
        rows = []
        for name, _, _ in self.layers:
            for kind, rsms in (("spatio-semantic", self.baseline), ("semantic", self.semantic)):
                m = rsms[name]
                overlapping, unrelated = m[same & upper], m[~same & upper]
                # every (overlapping, unrelated) pair of pairs, a tie counting half
                ordered = (np.mean(overlapping[:, None] > unrelated[None, :])
                           + 0.5 * np.mean(overlapping[:, None] == unrelated[None, :]))
                others = np.where(np.eye(len(m), dtype=bool), -np.inf, m)
                nearest = np.mean(self.group[others.argmax(axis=1)] == self.group)
                rows.append(Score(name, kind, float(overlapping.mean()), float(unrelated.mean()),
                                  float(ordered), float(nearest)))
        return rows


class Score(NamedTuple):
    """How well one RSM of one layer tells overlapping crops (same photograph) from unrelated ones."""

    layer: str
    kind: str
    overlapping: float   # mean over the pairs of crops of the same photograph
    unrelated: float     # mean over the pairs of crops of different photographs
    ordered: float       # share of (overlapping, unrelated) pairs ranked right (the AUC)
    nearest: float       # share of crops whose most similar other crop is of the same photograph

    @property
    def gap(self) -> float:
        return self.overlapping - self.unrelated


def overlapping_crops(images: int = 6, per_image: int = 4, size: int = 64, seed: int = 0):
    """``per_image`` crops of ``size`` pixels from each of the first ``images`` bundled photographs.

    The crops of one photograph are shifted against each other by up to half their size in each
    direction, so every two of them overlap (by at least a quarter of their area) without being
    aligned. They are cut around the most varied (highest standard deviation) of a few random
    places of the photograph. Returns crops (N, 3, size, size) float32 and the photograph of each
    crop (N,).
    """
    rng = np.random.default_rng(seed)
    crops, group = [], []
    reach = size + size // 2
    for index, image in enumerate(photographs(PHOTOGRAPHS[:images])):
        scale = max(1, int(np.ceil(reach / min(image.shape[:2]))))
        if scale > 1:
            image = np.kron(image, np.ones((scale, scale, 1), dtype=np.float32))
        places = zip(rng.integers(image.shape[0] - reach + 1, size=_PLACES_TRIED),
                     rng.integers(image.shape[1] - reach + 1, size=_PLACES_TRIED))
        top, left = max(places, key=lambda p: float(image[p[0]:p[0] + reach, p[1]:p[1] + reach].std()))
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
    result = DemoResult(group=group, crops=crops, photographs=PHOTOGRAPHS[:images])
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


#: Columns of the demo's table: (header, Score field), printed with three decimals.
_COLUMNS = (("overlapping", "overlapping"), ("unrelated", "unrelated"), ("gap", "gap"),
            ("ordered", "ordered"), ("nearest", "nearest"))
TABLE_NOTE = ("mean cosine similarity of overlapping crops (same photograph) and of unrelated ones, their "
              "gap;\nordered: share of (overlapping, unrelated) pairs with the overlapping one more similar "
              "(the AUC);\nnearest: share of crops whose most similar other crop is of the same photograph")


def format_table(result: DemoResult) -> str:
    """The demo's table: per layer and RSM, the columns of :class:`Score` (see ``TABLE_NOTE``)."""
    lines = [f"{'layer':<8} {'S x C':>10}  {'RSM':<16}" + "".join(f" {h:>11}" for h, _ in _COLUMNS)]
    sizes = {name: f"{s} x {c}" for name, s, c in result.layers}
    for score in result.scores():
        lines.append(f"{score.layer:<8} {sizes[score.layer]:>10}  {score.kind:<16}"
                     + "".join(f" {getattr(score, field):>11.3f}" for _, field in _COLUMNS))
    return "\n".join(lines)


def _layer_list(names) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _compare(result: DemoResult, field: str) -> dict:
    """Layers where the semantic RSM's ``field``, as the table prints it, is above, equal to or below
    the spatio-semantic one's."""
    printed = {(s.layer, s.kind): round(getattr(s, field), 3) for s in result.scores()}
    out = {"above": [], "equal": [], "below": []}
    for name, _, _ in result.layers:
        semantic, spatial = printed[name, "semantic"], printed[name, "spatio-semantic"]
        out["above" if semantic > spatial else "equal" if semantic == spatial else "below"].append(name)
    return out


def _where(layers: dict, above: str, below: str, equal: str = "as high as") -> str:
    """'above at every layer', or 'above at layer2, below at layer3 ...'."""
    parts = [(words, layers[key]) for key, words in (("above", above), ("equal", equal), ("below", below))
             if layers[key]]
    if len(parts) == 1:
        return f"{parts[0][0]} at every layer"
    return ", ".join(f"{words} at {_layer_list(names)}" for words, names in parts)


def conclusion(result: DemoResult) -> str:
    """What the table of :func:`format_table` shows, in words, from its numbers as printed (three
    decimals): the semantic RSM against the spatio-semantic one, column by column, then a verdict.
    A layer counts as telling overlapping from unrelated crops better when its pairs are ordered
    better, or equally well with a wider gap."""
    gap, ordered, nearest = (_compare(result, field) for field in ("gap", "ordered", "nearest"))
    names = [name for name, _, _ in result.layers]
    better = [n for n in names if n in ordered["above"] or (n in ordered["equal"] and n in gap["above"])]
    lines = [f"Semantic vs spatio-semantic RSM: the gap is {_where(gap, 'wider', 'narrower', 'the same')}; "
             f"pairs are ordered {_where(ordered, 'better', 'worse', 'equally well')};",
             f"the nearest crop is of the same photograph {_where(nearest, 'more often', 'less often', 'as often')}."]
    narrowed = [n for n in better if n not in gap["above"]]
    if not better:
        lines.append("On these crops, aligning positions does not tell shifted views of the same photograph "
                     "from unrelated crops better.")
    elif len(better) < len(names):
        lines.append(f"Aligning positions tells shifted views of the same photograph from unrelated crops better "
                     f"at {_layer_list(better)} only.")
    elif narrowed:
        lines.append(f"Aligning positions raises every similarity towards 1, unrelated pairs included, which "
                     f"narrows the mean gap at {_layer_list(narrowed)};\nbut it ranks shifted views of the same "
                     f"photograph above unrelated crops more often there.")
    else:
        lines.append("Aligning positions before comparing keeps shifted views of the same photograph similar, "
                     "and apart from unrelated crops.")
    return "\n".join(lines)
