"""Compare every layer of one network with every layer of another (Kornblith et al., Figs. 3-6),
and semantic with spatio-semantic RSMs layer by layer (Wald et al., 2024, their CKA figure)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from tqdm.auto import tqdm

from . import cca as _cca
from ._backend import array_module
from ._checks import UnreliableResultWarning, as_features, check_choice, check_flag
from ._gram import rbf_from_features
from .cka import LINEAR_METHODS, Prepared, check_median, check_rsm, check_threshold, cka, cka_of
from .rsm import rsm
from .semantic import semantic_rsm

__all__ = ["SimilarityMatrix", "KindComparison", "MEASURES", "similarity_matrix", "compare_kinds"]


@dataclass(frozen=True)
class SimilarityMatrix:
    """Similarity of every layer of A (rows) to every layer of B (columns).

    Attributes
    ----------
    values : ndarray of float64, shape (len(labels_a), len(labels_b))
    labels_a, labels_b : tuple of str
        Layer names: the dict keys given, or "0", "1", ... for lists.
    measure : str
        The measure's name (a callable's ``__name__``).
    """

    values: np.ndarray
    labels_a: tuple
    labels_b: tuple
    measure: str

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def best_match(self) -> np.ndarray:
        """Index of the most similar layer of B for each layer of A (ties: the first)."""
        return np.argmax(self.values, axis=1)

    def table(self, digits: int = 3) -> str:
        """The matrix as aligned text, layers of A down, layers of B across."""
        return _table(self.labels_a, self.labels_b, self.values, digits)


def _table(row_labels, col_labels, values, digits: int) -> str:
    cells = [[f"{v:.{digits}f}" for v in row] for row in np.atleast_2d(values)]
    first = max(len(str(r)) for r in row_labels)
    widths = [max(len(str(c)), max(len(row[j]) for row in cells)) for j, c in enumerate(col_labels)]
    lines = [" " * first + "  " + "  ".join(str(c).rjust(w) for c, w in zip(col_labels, widths))]
    for label, row in zip(row_labels, cells):
        lines.append(str(label).ljust(first) + "  " + "  ".join(v.rjust(w) for v, w in zip(row, widths)))
    return "\n".join(lines)


@dataclass(frozen=True)
class _Measure:
    kind: str                      # "features" or "rsm": what each layer must be
    options: dict                  # option name -> default
    prepare: Callable              # (array of xp, label, xp, **options) -> prepared layer
    pair: Callable                 # (prepared a, prepared b) -> float
    min_samples: Callable          # (options) -> the smallest N the measure is defined for
    symmetric: bool = True
    float64: bool = True           # features arrive as checked float64 (else as given, see cka)


def _prep_linear(x, name, xp, debiased=False, method="auto"):
    method = check_choice(method, "method", LINEAR_METHODS)
    return Prepared.from_features(x, check_flag(debiased, "debiased"), name, method, xp)


def _prep_rbf(x, name, xp, threshold=1.0, debiased=False, median="all"):
    gram = rbf_from_features(x, check_threshold(threshold), check_median(median), name, xp, minus_one=True)
    return Prepared.from_gram(gram, check_flag(debiased, "debiased"), name)


def _prep_rsm(k, name, xp, debiased=False):
    return Prepared.from_gram(k, check_flag(debiased, "debiased"), name)


def _prep_subspace(x, name, xp, keep=None):
    sub = _cca.Subspace(x, name)
    return sub if keep is None else sub.truncated(keep)


def _cka_min_samples(options):
    return 4 if options["debiased"] else 3  # of 2 samples, biased CKA is 1 whatever they are


def _cca_min_samples(options):
    return 3


def _mean_rho(a, b):
    return float(np.mean(_cca.rho_of(a, b)))


def _mean_r2(a, b):
    return float(np.mean(_cca.rho_of(a, b) ** 2))


#: Measures by name. ``cka`` takes precomputed N x N RSMs / Gram matrices (any kernel, the
#: semantic RSMs included); every other measure takes features (N, ...).
MEASURES = {
    "linear_cka": _Measure("features", {"debiased": False, "method": "auto"}, _prep_linear, cka_of,
                           _cka_min_samples, float64=False),
    "rbf_cka": _Measure("features", {"threshold": 1.0, "debiased": False, "median": "all"}, _prep_rbf, cka_of,
                        _cka_min_samples, float64=False),
    "cka": _Measure("rsm", {"debiased": False}, _prep_rsm, cka_of, _cka_min_samples),
    "mean_r2_cca": _Measure("features", {}, _prep_subspace, _mean_r2, _cca_min_samples),
    "mean_rho_cca": _Measure("features", {}, _prep_subspace, _mean_rho, _cca_min_samples),
    "svcca": _Measure("features", {"keep": 0.99}, _prep_subspace, _mean_rho, _cca_min_samples),
    "pwcca": _Measure("features", {}, _prep_subspace, _cca.pwcca_of, _cca_min_samples, symmetric=False),
    "r2_lr": _Measure("features", {}, _prep_subspace, _cca.r2_lr_of, _cca_min_samples, symmetric=False),
}


def _callable_measure(fn) -> _Measure:
    return _Measure("any", {}, lambda x, name, xp: x, lambda a, b: float(fn(a, b)), lambda o: 1,
                    symmetric=False)


def _as_layers(layers, name: str):
    if isinstance(layers, dict) or (hasattr(layers, "keys") and hasattr(layers, "__getitem__")):
        labels = [str(k) for k in layers.keys()]
        arrays = [layers[k] for k in layers.keys()]
    elif isinstance(layers, (list, tuple)):
        labels, arrays = [str(i) for i in range(len(layers))], list(layers)
    else:
        raise TypeError(f"{name} must be a dict (label -> array) or a list of arrays, one per layer; "
                        f"got {type(layers).__name__}")
    if not arrays:
        raise ValueError(f"{name} holds no layers")
    return labels, arrays


def similarity_matrix(layers_a, layers_b=None, measure: Union[str, Callable] = "linear_cka", *,
                      progress: bool = False, **options) -> SimilarityMatrix:
    """Every layer of network A against every layer of network B.

    Parameters
    ----------
    layers_a, layers_b : dict of label -> array, or list of arrays
        One representation per layer, all of the same N samples: features (N, ...) for the
        feature measures, N x N RSMs / Gram matrices for ``measure="cka"``. NumPy or CuPy (a CuPy
        array anywhere keeps the work on the GPU). ``layers_b`` omitted: A against itself.
    measure : str or callable
        ``"linear_cka"`` (options ``debiased``, ``method``), ``"rbf_cka"`` (``threshold``,
        ``debiased``, ``median``), ``"cka"`` on precomputed RSMs (``debiased``), ``"mean_r2_cca"``,
        ``"mean_rho_cca"``, ``"svcca"`` (``keep``), ``"pwcca"``, ``"r2_lr"`` (see
        :mod:`semrsm.cca`); or any ``f(a, b) -> float`` applied to the raw arrays.
    progress : bool
        Show a progress bar over the pairs of layers.
    **options
        Options of the measure, as listed above.

    Returns
    -------
    SimilarityMatrix
        ``values[i, j]`` compares layer i of A with layer j of B; labels from the dict keys.

    Raises
    ------
    ValueError
        An unknown measure, layers with different N, an RSM that is not N x N, and any error of
        the measure itself, prefixed with the layer it concerns.
    TypeError
        An unknown option for the measure, or layers neither a dict nor a list.

    Notes
    -----
    Each layer is prepared once (centred, its Gram matrix or SVD computed) and every prepared
    layer is kept until the end, so memory grows with the number of layers: for ``linear_cka``
    each layer keeps its centred features (float64) when 2 D < N and its N x N Gram matrix
    otherwise (``method`` forces one), so a pair costs O(N D1 D2) or O(N^2) time; for ``rbf_cka``
    and ``cka`` each layer keeps an N x N float64 matrix. When B is omitted and the measure is symmetric, only half of
    the pairs are computed.
    """
    if callable(measure):
        spec, measure_name = _callable_measure(measure), getattr(measure, "__name__", "custom")
    elif measure in MEASURES:
        spec, measure_name = MEASURES[measure], measure
    else:
        raise ValueError(f"unknown measure {measure!r}; expected one of "
                         f"{', '.join(map(repr, MEASURES))} or a callable f(a, b) -> float")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise TypeError(f"measure {measure_name!r} takes no option {', '.join(map(repr, unknown))} "
                        f"(its options: {allowed})")
    opts = {**spec.options, **options}

    labels_a, arrays_a = _as_layers(layers_a, "layers_a")
    same = layers_b is None
    labels_b, arrays_b = (labels_a, arrays_a) if same else _as_layers(layers_b, "layers_b")
    prepared_a, prepared_b = _prepare_all(spec, opts, (labels_a, arrays_a),
                                          None if same else (labels_b, arrays_b))
    if same:
        prepared_b = prepared_a

    pairs = [(i, j) for i in range(len(labels_a)) for j in range(len(labels_b))
             if not (same and spec.symmetric and j < i)]
    values = np.full((len(labels_a), len(labels_b)), np.nan)
    unreliable = []  # one warning for all pairs, not one per pair
    for i, j in _progress(pairs, progress, measure_name, "pair"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnreliableResultWarning)
            try:
                values[i, j] = spec.pair(prepared_a[i], prepared_b[j])
            except ValueError as exc:
                raise ValueError(f"layer {labels_a[i]!r} of A vs layer {labels_b[j]!r} of B: {exc}") from None
        for caught_warning in caught:
            if issubclass(caught_warning.category, UnreliableResultWarning):
                unreliable.append(f"layer {labels_a[i]!r} of A vs layer {labels_b[j]!r} of B: {caught_warning.message}")
            else:
                warnings.warn_explicit(caught_warning.message, caught_warning.category, caught_warning.filename,
                                       caught_warning.lineno)
        if same and spec.symmetric:
            values[j, i] = values[i, j]
    if unreliable:
        others = f" (and {len(unreliable) - 1} more of the {len(pairs)} pairs alike)" if len(unreliable) > 1 else ""
        warnings.warn(unreliable[0] + others, UnreliableResultWarning, stacklevel=2)
    return SimilarityMatrix(values, tuple(labels_a), tuple(labels_b), measure_name)


def _progress(items, progress: bool, what: str, unit: str):
    return tqdm(items, desc=what, unit=unit) if progress else items


def _prepare_all(spec: _Measure, opts: dict, side_a, side_b):
    """Validate and prepare every layer; all must describe the same N samples."""
    sides = [("A", *side_a)] + ([] if side_b is None else [("B", *side_b)])
    xp = array_module(*[x for _, _, arrays in sides for x in arrays])
    minimum = spec.min_samples(opts)
    out, n_first = [], None
    for side, labels, arrays in sides:
        prepared = []
        for label, x in zip(labels, arrays):
            where = f"layer {label!r} of {side}"
            if spec.kind == "features":
                arr = as_features(x, where, xp, min_samples=minimum, convert=spec.float64)
            elif spec.kind == "rsm":
                arr = check_rsm(x, where, xp, minimum)
            else:
                arr = x
            n = arr.shape[0] if hasattr(arr, "shape") else None
            if n is not None:
                if n_first is None:
                    n_first = (n, where)
                elif n != n_first[0]:
                    raise ValueError(f"{where} has N = {n} samples but {n_first[1]} has "
                                     f"N = {n_first[0]}: every layer must describe the same samples")
            prepared.append(spec.prepare(arr, where, xp, **opts))
        out.append(prepared)
    return out[0], (out[1] if len(out) > 1 else None)


# --------------------------------------------------------------------------------------------
# Semantic vs spatio-semantic RSMs


@dataclass(frozen=True)
class KindComparison:
    """CKA between the semantic and the spatio-semantic RSM of each layer of one network.

    Attributes
    ----------
    labels : tuple of str
        Layer names.
    values : ndarray of float64, shape (len(labels),)
        ``cka(semantic_rsm(layer), rsm(layer))`` per layer.
    kernel, matcher : str or None
        The kernel of both RSMs and the matcher of the semantic one.
    debiased : bool
    rsms : dict or None
        label -> (semantic RSM, spatio-semantic RSM) when asked for with ``return_rsms=True``.
    """

    labels: tuple
    values: np.ndarray
    kernel: str
    matcher: Optional[str]
    debiased: bool
    rsms: Optional[dict] = None

    def table(self, digits: int = 3) -> str:
        """One line per layer: its label and the CKA."""
        return _table(self.labels, ["CKA"], self.values[:, None], digits)


def compare_kinds(layers, kernel: str = "cosine", matcher: Optional[str] = None, layout: Optional[str] = None,
                  debiased: bool = False, return_rsms: bool = False, progress: bool = False,
                  **rsm_options) -> KindComparison:
    """CKA between semantic and spatio-semantic RSMs, layer by layer (Wald et al., 2024).

    Parameters
    ----------
    layers : dict of label -> array, or list of arrays
        Each layer's representations of the same N samples: (N, C, H, W) conv maps, (N, T, D)
        tokens, or (N, D) vectors (one position: both RSMs are the same), as ``layout`` says.
    kernel : {"cosine", "inner", "rbf"}
        Kernel of both RSMs.
    matcher : str, optional
        Matcher of :func:`semrsm.semantic_rsm`; its default when omitted.
    layout : {None, "NCHW", "NTD", "NSC"}
        Axis order of every layer, passed to :func:`semrsm.semantic_rsm`; None (default) reads each
        layer's from its shape.
    debiased : bool
        Debiased CKA (N >= 4).
    return_rsms : bool
        Keep both RSMs of every layer in the result (2 N^2 float64 values a layer).
    progress : bool
        A progress bar over the layers.
    **rsm_options
        Passed on to :func:`semrsm.semantic_rsm` (e.g. ``max_memory``).

    Returns
    -------
    KindComparison
        ``values[l]`` is the CKA of layer l's two RSMs: 1 where spatial alignment does not matter,
        lower where the semantic RSM tells something the spatio-semantic one misses.
    """
    debiased = check_flag(debiased, "debiased")
    labels, arrays = _as_layers(layers, "layers")
    semantic_options = dict(rsm_options, kernel=kernel, layout=layout)
    if matcher is not None:
        semantic_options["matcher"] = matcher
    values, rsms = [], {}
    for label, x in _progress(list(zip(labels, arrays)), progress, "layers", "layer"):
        try:
            semantic = semantic_rsm(x, **semantic_options)
            # the same RBF bandwidth for both kinds when the caller fixes one
            spatial = rsm(x, kernel=kernel, sigma=rsm_options.get("sigma"))
            values.append(cka(semantic, spatial, debiased=debiased))
        except ValueError as exc:
            raise ValueError(f"layer {label!r}: {exc}") from None
        if return_rsms:
            rsms[label] = (semantic, spatial)
    return KindComparison(tuple(labels), np.asarray(values, dtype=np.float64), kernel, matcher,
                          debiased, rsms if return_rsms else None)
