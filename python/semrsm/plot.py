"""Figures: layer-by-layer similarity heatmaps, RSM heatmaps, per-layer profiles.

Every function returns a ``matplotlib.figure.Figure`` made without pyplot (no global state, no
window), draws into ``ax`` instead when one is given, and writes the figure to ``path`` when one is
given (the format follows the extension: .png, .pdf, .svg ...). matplotlib is imported on first use.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ._backend import to_numpy

__all__ = ["similarity_heatmap", "rsm_heatmap", "layer_profile"]


def _figure(ax, size):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def _matrix(values, name: str) -> np.ndarray:
    arr = np.asarray(to_numpy(values), dtype=np.float64)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix; got shape {arr.shape}")
    return arr


def similarity_heatmap(sim, labels_a: Optional[Sequence[str]] = None,
                       labels_b: Optional[Sequence[str]] = None, *, title: Optional[str] = None,
                       xlabel: str = "layer of B", ylabel: str = "layer of A", cmap: str = "magma",
                       vmin: Optional[float] = 0.0, vmax: Optional[float] = 1.0, annotate: Optional[bool] = None,
                       ax=None, path=None):
    """Heatmap of a layer-by-layer similarity matrix, as in Kornblith et al.'s figures.

    Parameters
    ----------
    sim : SimilarityMatrix or array_like, shape (La, Lb)
        From :func:`semrsm.similarity_matrix` (labels and measure taken from it), or a matrix.
    labels_a, labels_b : sequence of str, optional
        Row and column labels (default: the SimilarityMatrix's, or 0, 1, ...).
    title : str, optional
        Default: the measure's name for a SimilarityMatrix.
    cmap, vmin, vmax
        Colour map and its range (vmin/vmax None: the data's range; debiased CKA can dip below 0).
    annotate : bool, optional
        Write each value in its cell; default when the matrix has at most 12 x 12 cells.
    ax : matplotlib Axes, optional
        Draw here instead of a new figure.
    path : str or path-like, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(sim, "values") and hasattr(sim, "labels_a"):
        values = _matrix(sim.values, "sim")
        labels_a = sim.labels_a if labels_a is None else labels_a
        labels_b = sim.labels_b if labels_b is None else labels_b
        title = sim.measure if title is None else title
    else:
        values = _matrix(sim, "sim")
    rows, cols = values.shape
    labels_a = [str(i) for i in range(rows)] if labels_a is None else [str(x) for x in labels_a]
    labels_b = [str(j) for j in range(cols)] if labels_b is None else [str(x) for x in labels_b]
    if len(labels_a) != rows or len(labels_b) != cols:
        raise ValueError(f"{len(labels_a)} row and {len(labels_b)} column labels for a {rows} x {cols} matrix")
    fig, ax = _figure(ax, (1.2 + 0.45 * cols, 1.0 + 0.4 * rows) if max(rows, cols) > 8 else (5.0, 4.2))
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower", aspect="auto",
                      interpolation="nearest")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(cols), labels_b, rotation=90 if max(map(len, labels_b)) > 3 else 0)
    ax.set_yticks(range(rows), labels_a)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if annotate or (annotate is None and rows <= 12 and cols <= 12):
        low, high = image.get_clim()
        for i in range(rows):
            for j in range(cols):
                light = (values[i, j] - low) < 0.5 * (high - low)
                ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if light else "black")
    return _finish(fig, path)


def rsm_heatmap(rsms, titles: Optional[Sequence[str]] = None, *, cmap: str = "viridis",
                vmin: Optional[float] = None, vmax: Optional[float] = None, shared_scale: bool = False,
                suptitle: Optional[str] = None, columns: Optional[int] = None, path=None):
    """One or several RSMs side by side (e.g. semantic vs spatio-semantic, Wald et al. Fig. 1).

    Parameters
    ----------
    rsms : array_like (N, N), or a list or dict (title -> matrix) of them
        RSMs to show; NumPy or CuPy.
    titles : sequence of str, optional
        Panel titles (default: the dict keys, or none).
    cmap, vmin, vmax
        Colour map and range (default: each matrix's own range).
    shared_scale : bool
        One colour range for every panel (the overall range, unless vmin/vmax are given).
    suptitle : str, optional
        Title over all panels.
    columns : int, optional
        Panels per row (default: all in one row).
    path : str or path-like, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(rsms, dict):
        titles = list(rsms) if titles is None else titles
        mats = list(rsms.values())
    elif isinstance(rsms, (list, tuple)):
        mats = list(rsms)
    else:
        mats = [rsms]
    if not mats:
        raise ValueError("rsms holds no matrix")
    mats = [_matrix(m, f"rsms[{i}]") for i, m in enumerate(mats)]
    if titles is not None and len(titles) != len(mats):
        raise ValueError(f"{len(titles)} titles for {len(mats)} RSMs")
    if shared_scale:
        vmin = min(float(m.min()) for m in mats) if vmin is None else vmin
        vmax = max(float(m.max()) for m in mats) if vmax is None else vmax
    from matplotlib.figure import Figure

    columns = len(mats) if columns is None else max(1, min(int(columns), len(mats)))
    rows = -(-len(mats) // columns)
    fig = Figure(figsize=(3.4 * columns + 0.6, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[len(mats):]:
        ax.axis("off")
    for k, (ax, m) in enumerate(zip(axes, mats)):
        image = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_xlabel("sample")
        ax.set_ylabel("sample" if k % columns == 0 else "")
        if titles is not None:
            ax.set_title(str(titles[k]))
        if not shared_scale or k == len(mats) - 1:
            fig.colorbar(image, ax=ax, shrink=0.8)
    if suptitle:
        fig.suptitle(suptitle)
    return _finish(fig, path)


def layer_profile(values, labels: Optional[Sequence[str]] = None, *, title: Optional[str] = None,
                  ylabel: str = "CKA", label: Optional[str] = None, ylim=(0.0, 1.05), ax=None, path=None):
    """A value per layer as a line, e.g. CKA of semantic vs spatio-semantic RSMs (Wald et al.).

    Parameters
    ----------
    values : KindComparison or array_like, shape (L,)
        From :func:`semrsm.compare_kinds` (labels and kernel taken from it), or one value per layer.
    labels : sequence of str, optional
        Layer names along the x axis.
    title, ylabel, label
        Axes title, y-axis label and the line's legend entry (draw several networks into one
        ``ax`` by calling again with ``ax=`` and different labels).
    ylim : (float, float) or None
        y-axis range.
    ax : matplotlib Axes, optional
        Draw here instead of a new figure.
    path : str or path-like, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if hasattr(values, "values") and hasattr(values, "labels"):
        if title is None:
            title = f"semantic vs spatio-semantic RSMs ({values.kernel})"
        labels = values.labels if labels is None else labels
        values = values.values
    arr = np.asarray(to_numpy(values), dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, one value per layer; got shape {arr.shape}")
    labels = [str(i) for i in range(arr.size)] if labels is None else [str(x) for x in labels]
    if len(labels) != arr.size:
        raise ValueError(f"{len(labels)} labels for {arr.size} values")
    fig, ax = _figure(ax, (max(5.5, 0.5 * arr.size + 1.5), 3.4))
    ax.plot(range(arr.size), arr, marker="o", label=label)
    ax.set_xticks(range(arr.size), labels, rotation=90 if max(map(len, labels)) > 3 else 0)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if label is not None:
        ax.legend()
    return _finish(fig, path)

