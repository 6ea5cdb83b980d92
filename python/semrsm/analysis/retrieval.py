"""Retrieval by an RSM: F1@k between the object labels of a query and of its nearest samples.

Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for Neural Networks", NeurIPS
2024, sec. 5.1 (image retrieval): each query retrieves the k samples the RSM finds most similar to
it, and a retrieved sample counts by the overlap of its set of annotated objects B with the query's
set A, F1 = 2 |A ∩ B| / (|A| + |B|). A similarity that reflects what is in an image, wherever it is,
retrieves images with the same objects.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from .._backend import to_numpy
from .._checks import as_float64, check_count

__all__ = ["RetrievalScore", "label_matrix", "retrieval_f1"]


@dataclasses.dataclass(frozen=True)
class RetrievalScore:
    """F1, precision and recall of retrieval by an RSM, averaged over the retrieved and then over queries.

    Attributes
    ----------
    f1, precision, recall : float
        Means over queries of the per-query means over the k retrieved samples.
    k : int
        Samples retrieved per query.
    neighbours : ndarray of int64, shape (Q, k)
        Gallery indices retrieved for each query, most similar first.
    f1_per_query : ndarray of float64, shape (Q,)
    """

    f1: float
    precision: float
    recall: float
    k: int
    neighbours: np.ndarray
    f1_per_query: np.ndarray


def label_matrix(labels, name: str = "labels", vocabulary: Optional[dict] = None):
    """Labels as a binary (N, L) matrix: from a list of sets (any hashable labels) or a binary
    matrix. Returns (matrix bool (N, L), vocabulary label -> column, or None for matrix input)."""
    if isinstance(labels, np.ndarray) or hasattr(labels, "__cuda_array_interface__"):
        arr = to_numpy(labels)
        if arr.ndim != 2:
            raise ValueError(f"{name} as an array must be a binary (N, L) matrix; got shape {arr.shape}")
        if arr.dtype != bool:
            if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
                raise ValueError(f"{name} as a matrix must hold only 0 and 1 (or booleans)")
        return arr.astype(bool), None
    try:
        items = list(labels)
    except TypeError:
        raise TypeError(f"{name} must be a list of sets of labels or a binary (N, L) matrix") from None
    sets = []
    for index, item in enumerate(items):
        if isinstance(item, (str, bytes)):  # set("cat") would be its letters
            raise TypeError(f"{name}[{index}] is the string {item!r}; each entry must be a set of labels, "
                            f"e.g. {{{item!r}}}")
        try:
            sets.append(set(item))
        except TypeError:
            raise TypeError(f"{name}[{index}] is {item!r}, not a set of labels") from None
    vocabulary = {} if vocabulary is None else vocabulary
    for item in sets:
        for label in item:
            vocabulary.setdefault(label, len(vocabulary))
    matrix = np.zeros((len(sets), max(1, len(vocabulary))), dtype=bool)
    for row, item in enumerate(sets):
        matrix[row, [vocabulary[label] for label in item]] = True
    return matrix, vocabulary


def retrieval_f1(rsm, labels, k: int = 1, *, gallery_labels=None) -> RetrievalScore:
    """F1@k of retrieval by an RSM (Wald et al., 2024, sec. 5.1).

    For each query (a row of ``rsm``) the ``k`` most similar gallery samples (columns) are retrieved;
    with A the query's set of labels and B a retrieved sample's,

        F1 = 2 |A ∩ B| / (|A| + |B|),  precision = |A ∩ B| / |B|,  recall = |A ∩ B| / |A|,

    each averaged over the k retrieved and then over the queries. Empty sets: F1 is 1 when both are
    empty, precision is 1 when B is empty, recall 1 when A is empty (so F1 stays their harmonic mean).

    Parameters
    ----------
    rsm : array_like, shape (N, N) or (Q, G)
        Similarities, larger = more similar (a kernel RSM such as :func:`semrsm.semantic_rsm`'s; for
        distances pass their negation). Square without ``gallery_labels``: the samples retrieve
        among themselves and a query never retrieves itself (the diagonal is skipped).
    labels : list of sets, or array_like of bool/0-1, shape (N, L) or (Q, L)
        The objects annotated in each query (each sample when square).
    k : int
        Samples retrieved per query (at most N - 1, or G for a cross RSM).
    gallery_labels : list of sets or (G, L) matrix, optional
        Labels of the gallery (the columns): a cross RSM of queries against a separate gallery, in
        which every column may be retrieved (the diagonal is not skipped, even when Q = G).
        Lists of sets share one vocabulary; matrices must have the same L.

    Returns
    -------
    RetrievalScore

    Notes
    -----
    Ties are broken deterministically: among equally similar gallery samples the one of lower index
    is retrieved first.
    """
    sim = as_float64(rsm, "rsm", np, min_ndim=2)
    if sim.ndim != 2:
        raise ValueError(f"rsm must be a 2-D matrix of similarities; got shape {sim.shape}")
    queries, gallery = sim.shape
    cross = gallery_labels is not None
    if not cross and queries != gallery:
        raise ValueError(f"rsm is {queries} x {gallery}, not square; for a cross RSM of queries against a "
                         f"gallery pass gallery_labels (one entry per column)")
    query_matrix, vocabulary = label_matrix(labels, "labels")
    if len(query_matrix) != queries:
        raise ValueError(f"labels has {len(query_matrix)} entries for the {queries} rows of rsm")
    if cross:
        gallery_matrix, other = label_matrix(gallery_labels, "gallery_labels", vocabulary)
        if (vocabulary is None) != (other is None):
            raise TypeError("labels and gallery_labels must both be lists of sets or both be matrices")
        if len(gallery_matrix) != gallery:
            raise ValueError(f"gallery_labels has {len(gallery_matrix)} entries for the {gallery} columns of rsm")
        if vocabulary is not None:  # the gallery may have added labels: widen the queries' matrix
            query_matrix, _ = label_matrix(labels, "labels", dict(vocabulary))
            query_matrix = np.pad(query_matrix, ((0, 0), (0, gallery_matrix.shape[1] - query_matrix.shape[1])))
        elif gallery_matrix.shape[1] != query_matrix.shape[1]:
            raise ValueError(f"labels has {query_matrix.shape[1]} label columns and gallery_labels "
                             f"{gallery_matrix.shape[1]}")
    else:
        gallery_matrix = query_matrix
    available = gallery if cross else gallery - 1
    k = check_count(k, "k")
    if k > available:
        raise ValueError(f"k = {k} but each query can retrieve only {available} sample(s)")
    order_keys = -sim
    if not cross:
        np.fill_diagonal(order_keys, np.inf)  # never retrieve the query itself
    # A stable sort of -similarity: ties go to the lower gallery index.
    neighbours = np.argsort(order_keys, axis=1, kind="stable")[:, :k]
    a = query_matrix[:, None, :]
    b = gallery_matrix[neighbours]  # (Q, k, L)
    common = (a & b).sum(axis=2).astype(np.float64)
    size_a = np.broadcast_to(a.sum(axis=2), common.shape).astype(np.float64)
    size_b = b.sum(axis=2).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(size_a + size_b > 0, 2 * common / (size_a + size_b), 1.0)
        precision = np.where(size_b > 0, common / size_b, 1.0)
        recall = np.where(size_a > 0, common / size_a, 1.0)
    per_query = f1.mean(axis=1)
    return RetrievalScore(float(per_query.mean()), float(precision.mean(axis=1).mean()),
                          float(recall.mean(axis=1).mean()), k, neighbours.astype(np.int64), per_query)
