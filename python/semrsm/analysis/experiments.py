"""The analyses of Wald et al. (2024) reproduced from the installed package, with nothing to download.

Each runs in well under a minute on 2 cores, returns a table like the paper's and writes it (CSV)
and a figure into a folder:

- :func:`retrieval_experiment` (sec. 5.1): scenes composed of objects from the photographs bundled
  with scikit-image, on varied backgrounds; F1@1 of retrieval by the semantic and by the
  spatio-semantic RSM of a random conv net's layers, for each kernel.
- :func:`jsd_experiment` (sec. 5.2): a small classifier trained in seconds with NumPy on digits at
  random places of a larger canvas; correlation of its layers' RSMs with the Jensen-Shannon divergence
  of its predictions, semantic against spatio-semantic.
- :func:`matchers_experiment` (sec. 4, Fig. 5): the matcher study on the features of the demo.

The data are not the paper's (ImageNet-scale networks and datasets cannot ship with a package), so
the numbers are of these small settings; each result's ``summary`` says, from its own numbers,
where the semantic RSM wins and where it does not.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional

import numpy as np

from ..datasets import RandomConvNet
from ..demo import overlapping_crops
from ..rsm import rsm
from ..semantic import semantic_rsm
from ._convnet import TinyConvNet
from ._digits import digit_canvases, glyphs
from ._scenes import compose_scenes
from ._table import Table
from .figures import jsd_figure, retrieval_figure, study_figure
from .jsd import js_divergence, jsd_correlation
from .retrieval import retrieval_f1
from .study import DEFAULT_WINDOWS, matcher_study

__all__ = ["EXPERIMENTS", "QUICK", "Experiment", "jsd_experiment", "matchers_experiment", "retrieval_experiment"]

KERNELS = ("inner", "cosine", "rbf")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """What an experiment computed and wrote.

    Attributes
    ----------
    name : str
    table : Table
        The paper-like table (also written as ``csv``).
    summary : str
        What the numbers show, in a few sentences made from them.
    csv, figure : str
        Paths written (``figure`` is "" when no figure was asked for).
    seconds : float
        Wall time of the whole experiment.
    """

    name: str
    table: Table
    summary: str
    csv: str
    figure: str
    seconds: float


def _paths(out_dir: str, name: str, plot: bool):
    os.makedirs(out_dir, exist_ok=True)
    return os.path.join(out_dir, f"{name}.csv"), os.path.join(out_dir, f"{name}.png") if plot else ""


def _compare(rows, better, what: str) -> str:
    """Sentences on where the semantic RSM wins: ``rows`` of (layer, kernel, spatio-semantic, semantic),
    ``better(semantic, spatio)`` True when the semantic value is the better one."""
    wins = [(layer, kernel) for layer, kernel, spatio, semantic in rows if better(semantic, spatio)]
    losses = [f"{layer}/{kernel} ({semantic:.3f} vs {spatio:.3f})"
              for layer, kernel, spatio, semantic in rows if not better(semantic, spatio)]
    text = f"The semantic RSM has the better {what} in {len(wins)} of {len(rows)} layer/kernel cases."
    if losses:
        text += " It does not win for " + ", ".join(losses) + " (semantic vs spatio-semantic)."
    return text


# --------------------------------------------------------------------------------------------
# (a) Retrieval


def retrieval_experiment(out_dir: str = "semrsm-experiments", *, scenes: int = 200, size: int = 64,
                         layers=(2, 3), matcher: str = "exact", seed: int = 0, threads: Optional[int] = None,
                         progress: Optional[bool] = None, plot: bool = True) -> Experiment:
    """Retrieval of composed scenes by their objects (Wald et al., 2024, sec. 5.1).

    ``scenes`` scenes of ``size`` pixels (:func:`semrsm.analysis._scenes.compose_scenes`: 1-3 of 8
    objects cut from scikit-image's photographs, pasted at random positions on random, tinted
    backgrounds) pass through a random conv net (:class:`semrsm.datasets.RandomConvNet`, channels 32,
    64, 128, 256); for the stages ``layers`` (0-based; default the third and fourth, 16 x 16 and
    8 x 8 for 64-pixel scenes) the semantic (``matcher``) and spatio-semantic RSMs of each kernel
    retrieve, for every scene, the most similar other one, scored by F1@1 of the object labels
    (:func:`semrsm.analysis.retrieval_f1`). Chance is the mean F1 to all other scenes.

    Writes ``retrieval.csv`` and ``retrieval.png`` into ``out_dir``.
    """
    start = time.perf_counter()
    csv_path, figure_path = _paths(out_dir, "retrieval", plot)
    images, labels = compose_scenes(scenes, size=size, seed=seed)
    maps = RandomConvNet((32, 64, 128, 256), seed=seed)(images)
    rows, examples = [], None
    chance = None
    for index in layers:
        x = maps[index]
        name = f"layer{index + 1}"
        semantic = semantic_rsm(x, kernel=list(KERNELS), matcher=matcher, threads=threads, progress=progress)
        spatio = rsm(x, kernel=list(KERNELS))
        if chance is None:
            chance = retrieval_f1(spatio["cosine"], labels, k=len(labels) - 1).f1
        for kernel in KERNELS:
            got = {kind: retrieval_f1(matrix[kernel], labels) for kind, matrix in
                   (("spatio-semantic", spatio), ("semantic", semantic))}
            rows.append((name, x.shape[2] * x.shape[3], x.shape[1], kernel, got["spatio-semantic"].f1,
                         got["semantic"].f1, got["semantic"].f1 - got["spatio-semantic"].f1,
                         got["spatio-semantic"].precision, got["semantic"].precision))
            if examples is None and kernel == "cosine":
                examples = (name, {kind: score.neighbours[:, 0] for kind, score in got.items()})
    table = Table(("layer", "S", "C", "kernel", "f1_spatio_semantic", "f1_semantic", "difference",
                   "precision_spatio_semantic", "precision_semantic"), rows,
                  {c: ".3f" for c in ("f1_spatio_semantic", "f1_semantic", "difference", "precision_spatio_semantic",
                                      "precision_semantic")},
                  f"Retrieval F1@1 of {scenes} composed scenes ({size} px, 8 objects, 1-3 per scene), random conv "
                  f"net; chance (a random other scene) {chance:.3f}")
    table.to_csv(csv_path)
    summary = _compare([(r[0], r[3], r[4], r[5]) for r in rows], lambda sem, spa: sem > spa, "F1@1")
    summary += f" Chance is {chance:.3f}."
    if plot:
        layer, neighbours = examples
        retrieval_figure(table, images, labels, neighbours, queries=range(min(4, scenes)), chance=chance,
                         examples_title=f"nearest scene by each RSM (cosine, {layer})", path=figure_path)
    return Experiment("retrieval", table, summary, csv_path, figure_path, time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# (b) Agreement with the predictions


def jsd_experiment(out_dir: str = "semrsm-experiments", *, train: int = 3000, test: int = 160, epochs: int = 8,
                   matcher: str = "exact", seed: int = 0, threads: Optional[int] = None,
                   progress: Optional[bool] = None, plot: bool = True) -> Experiment:
    """Correlation of a classifier's RSMs with the JSD of its predictions (Wald et al., 2024, sec. 5.2).

    A :class:`~semrsm.analysis._convnet.TinyConvNet` (channels 8, 32, 32, global average pooling) is
    trained with NumPy for ``epochs`` epochs on ``train`` digits at random places of a 24 x 24 canvas
    (:func:`~semrsm.analysis._digits.digit_canvases`, glyphs of matplotlib's fonts); on ``test``
    further digits, each layer's semantic and spatio-semantic RSM of each kernel is correlated with the
    Jensen-Shannon divergence (base 2) of the predicted class probabilities over the pairs i < j
    (:func:`semrsm.analysis.jsd_correlation`). Agreement shows as a negative correlation.

    Writes ``jsd.csv`` and ``jsd.png`` into ``out_dir``.
    """
    start = time.perf_counter()
    csv_path, figure_path = _paths(out_dir, "jsd", plot)
    shapes = glyphs(12)
    images, digits = digit_canvases(train, 24, 12, seed=seed, shapes=shapes)
    test_images, test_digits = digit_canvases(test, 24, 12, seed=seed + 1, shapes=shapes)
    net = TinyConvNet((1, 8, 32, 32), seed=seed)
    net.fit(images, digits, epochs=epochs, batch_size=50, learning_rate=1e-2)
    features = net.features(test_images)
    probs = features["probs"]
    accuracy = float((probs.argmax(axis=1) == test_digits).mean())
    upper = np.triu_indices(test, k=1)
    divergence = js_divergence(probs)[upper]
    rows, scatter = [], {}
    for name in net.LAYERS:
        x = features[name]
        semantic = semantic_rsm(x, kernel=list(KERNELS), matcher=matcher, threads=threads, progress=progress)
        spatio = rsm(x, kernel=list(KERNELS))
        for kernel in KERNELS:
            got = {kind: jsd_correlation(matrix[kernel], probs) for kind, matrix in
                   (("spatio-semantic", spatio), ("semantic", semantic))}
            rows.append((name, x.shape[2] * x.shape[3], x.shape[1], kernel, got["spatio-semantic"].pearson,
                         got["semantic"].pearson, got["spatio-semantic"].spearman, got["semantic"].spearman))
        scatter = {kind: (matrix["cosine"][upper], divergence) for kind, matrix in
                   (("spatio-semantic", spatio), ("semantic", semantic))}
    table = Table(("layer", "S", "C", "kernel", "pearson_spatio_semantic", "pearson_semantic",
                   "spearman_spatio_semantic", "spearman_semantic"), rows,
                  {c: ".3f" for c in ("pearson_spatio_semantic", "pearson_semantic", "spearman_spatio_semantic",
                                      "spearman_semantic")},
                  f"Correlation of RSMs with the JSD (bits) of the predictions, {test} test digits, "
                  f"{test * (test - 1) // 2} pairs; classifier accuracy {accuracy:.3f}; negative = agreement")
    table.to_csv(csv_path)
    summary = _compare([(r[0], r[3], r[6], r[7]) for r in rows], lambda sem, spa: sem < spa,
                       "(more negative) Spearman correlation with the JSD")
    summary += f" The classifier reaches {accuracy:.3f} accuracy on the test digits."
    if plot:
        jsd_figure(table, scatter, f"{net.LAYERS[-1]}: mean JSD by rank of the cosine RSM entry", path=figure_path)
    return Experiment("jsd", table, summary, csv_path, figure_path, time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# (c) The matcher study


def matchers_experiment(out_dir: str = "semrsm-experiments", *, images: int = 6, per_image: int = 4,
                        size: int = 64, pairs: int = 24, windows=DEFAULT_WINDOWS, seed: int = 0,
                        threads: Optional[int] = None, progress: Optional[bool] = None,
                        plot: bool = True) -> Experiment:
    """The matcher study (:func:`semrsm.analysis.matcher_study`) on the demo's features.

    Overlapping crops of the bundled photographs (:func:`semrsm.demo.overlapping_crops`) pass through
    the demo's random conv net (channels 32, 64, 128, 256); stages 2-4 are studied on ``pairs``
    seeded pairs: Hungarian baseline, exact matcher, Batch-Optimal and TopK-Greedy with each of
    ``windows``, and Greedy.

    Writes ``matchers.csv`` and ``matchers.png`` into ``out_dir``.
    """
    start = time.perf_counter()
    csv_path, figure_path = _paths(out_dir, "matchers", plot)
    crops, _ = overlapping_crops(images, per_image, size, seed)
    maps = RandomConvNet((32, 64, 128, 256), seed=seed)(crops)
    layers = {f"layer{k + 1}": maps[k] for k in range(1, len(maps))}
    table = matcher_study(layers, windows=windows, pairs=pairs, seed=seed, threads=threads, progress=progress)
    table.to_csv(csv_path)
    approximate = [row for row in table if row["matcher"] not in ("hungarian", "exact")]
    fastest = max(approximate, key=lambda row: row["vs_exact"] or 0.0)
    below = [f"{row['layer']}/{row['matcher']}{'' if row['window'] is None else ' ' + str(row['window'])} "
             f"(median {row['quality_median']:.3f})" for row in approximate if row["quality_median"] < 0.95]
    exact = table.where(matcher="exact")
    summary = (f"The exact matcher is {min(exact['vs_hungarian']):.1f}-{max(exact['vs_hungarian']):.1f}x faster "
               f"than the Hungarian baseline per pair. The fastest approximation is {fastest['matcher']}"
               f"{'' if fastest['window'] is None else ' ' + str(fastest['window'])} on {fastest['layer']} "
               f"({fastest['vs_exact']:.1f}x the exact matcher, median quality {fastest['quality_median']:.3f}).")
    summary += (" Median quality below 0.95: " + ", ".join(below) + ".") if below else \
        " Every approximation keeps a median quality of at least 0.95."
    if plot:
        study_figure(table, path=figure_path, title="Matchers on the demo's features (random conv net, photo crops)")
    return Experiment("matchers", table, summary, csv_path, figure_path, time.perf_counter() - start)


#: Experiment name -> function, and the reduced sizes of a quick run (seconds, for tests and trials).
EXPERIMENTS = {"retrieval": retrieval_experiment, "jsd": jsd_experiment, "matchers": matchers_experiment}
QUICK = {
    "retrieval": dict(scenes=40, size=32),
    "jsd": dict(train=400, test=30, epochs=2),
    "matchers": dict(images=3, per_image=2, size=32, pairs=6, windows=(8, 16)),
}
