"""Centered kernel alignment: compare two representations of the same N samples.

Follows Kornblith, Norouzi, Lee and Hinton, "Similarity of Neural Network Representations
Revisited" (ICML 2019, arXiv 1905.00414), section 3 and appendix:

    HSIC(K, L) = tr(K H L H) / (N - 1)^2            H = I - 11^T / N (centering)
    CKA(K, L)  = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))

The debiased variant replaces HSIC with the unbiased estimator of Song et al. (JMLR 2012,
eq. 5), computed as the inner product of U-centred Gram matrices (Szekely and Rizzo, 2014):
identical values, O(N^2) memory, no O(N^3) products. Minibatch CKA (Nguyen, Raghu and
Kornblith, ICLR 2021) averages the unbiased HSIC over minibatches.

Every function takes NumPy or CuPy arrays; a CuPy input keeps the work on its GPU (a NumPy
argument next to it is copied there). Sums accumulate in float64, and the scalar results come
back as Python floats, small matrices as NumPy arrays.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ._backend import array_module, to_numpy
from ._checks import (as_features, as_float64, check_choice, check_flag, check_samples, positive_number,
                      raise_if_not_finite, same_samples)
from ._gram import CONSTANT_RTOL, abs_max, center_features, centered_gram, rbf_from_features

__all__ = ["LINEAR_METHODS", "RBF_MEDIANS", "MinibatchCKA", "Prepared", "check_median", "check_rsm", "cka", "cka_of",
           "gram_linear", "gram_rbf", "linear_cka", "rbf_cka"]

#: A debiased self-HSIC computed in feature space is zero when it is below this fraction of its
#: largest term: the closed form cancels terms, so rounding can leave a tiny (even negative) rest.
_CANCEL_RTOL = 1e-10
#: How :func:`linear_cka` computes: in feature space, through Gram matrices, or whichever is cheaper.
LINEAR_METHODS = ("auto", "features", "gram")


def check_threshold(threshold) -> float:
    return positive_number(threshold, "threshold")


def gram_linear(x):
    """Linear-kernel Gram matrix ``X X^T`` of (N, ...) features, float64 (NumPy or CuPy)."""
    xp = array_module(x)
    f = as_features(x, "X", xp, min_samples=1)
    return f @ f.T


#: Rules for the median behind the RBF bandwidth of :func:`gram_rbf` and :func:`rbf_cka`
#: (semrsm._gram.median_squared_distance).
RBF_MEDIANS = ("all", "distinct")


def check_median(median) -> str:
    return check_choice(median, "median", RBF_MEDIANS)


def gram_rbf(x, threshold: float = 1.0, median: str = "all"):
    """RBF Gram matrix ``exp(-||x_i - x_j||^2 / (2 sigma^2))`` of (N, ...) features.

    ``sigma^2 = threshold^2 * m``, with m a median of the squared distances chosen by ``median``:

    - ``"all"`` (default): over all N^2 entries, the zero diagonal included, as in the code of
      Kornblith et al. (and the CKA libraries that follow it), so their numbers are reproduced.
    - ``"distinct"``: over the non-zero distances between distinct samples; with ``threshold=1``
      this is the RBF kernel of :func:`semrsm.rsm`. It ignores coinciding samples, where
      ``"all"`` fails once most samples coincide. The two differ by O(1/N) otherwise.
    """
    xp = array_module(x)
    threshold = check_threshold(threshold)
    median = check_median(median)
    return rbf_from_features(as_features(x, "X", xp, convert=False), threshold, median, "X", xp)


def _symmetric_part(k):
    # (K + K^T) / 2 is exact for a symmetric K, so no test is needed
    return (k + k.T) * 0.5


def _center_gram(k, debiased: bool, xp):
    """H K H, or the U-centred K (zero diagonal) for the unbiased estimator, in place; K symmetric.

    H K H = K - m_i - m_j + mean(m) with m the column means; U-centring (Szekely and Rizzo, 2014):
    K with a zero diagonal, minus its row and column sums / (N - 2), plus its total / ((N - 1)(N - 2)).
    """
    n = k.shape[0]
    if debiased:
        xp.fill_diagonal(k, 0.0)
        means = k.sum(axis=0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
    else:
        means = k.mean(axis=0)
        means -= means.mean() / 2
    k -= means[:, None]
    k -= means[None, :]
    if debiased:
        xp.fill_diagonal(k, 0.0)
    return k


def _check_centered_gram(kc, scale: float, name: str, debiased: bool) -> None:
    """``scale``: the largest magnitude in the Gram matrix before centring."""
    if abs_max(kc) <= CONSTANT_RTOL * scale:
        if debiased:
            raise ValueError(f"{name} has nothing left after debiasing (its off-diagonal entries are "
                             f"constant, or of the form a_i + a_j): debiased CKA is undefined")
        raise ValueError(f"{name} is constant after centring (every sample is alike under this "
                         f"kernel): its CKA with anything is undefined")


# --------------------------------------------------------------------------------------------
# HSIC between prepared representations


class Prepared:
    """One representation ready for HSIC: centred features, or a centred Gram matrix.

    For the debiased estimator the Gram matrix is U-centred, and features carry their row norms
    so that the unbiased HSIC follows in closed form (Kornblith et al., appendix). HSIC values are
    kept unnormalised (times (N - 1)^2, or N (N - 3) when debiased); the factor cancels in CKA.
    """

    __slots__ = ("xp", "n", "debiased", "name", "features", "gram", "rows", "total", "self_hsic")

    def __init__(self, xp, debiased: bool, name: str, *, features=None, gram=None):
        self.xp, self.debiased, self.name = xp, debiased, name
        self.features, self.gram = features, gram
        self.n = (features if features is not None else gram).shape[0]
        self.rows = self.total = None
        if features is None:
            self.self_hsic = float(xp.vdot(gram.ravel(), gram.ravel()))
            return
        self.self_hsic = float(xp.linalg.norm(features.T @ features)) ** 2
        if debiased:
            self.rows = xp.einsum("ij,ij->i", features, features)
            self.total = float(self.rows.sum())
            biased = self.self_hsic
            self.self_hsic = biased + _debias_terms(self, self)
            if self.self_hsic <= _CANCEL_RTOL * biased:
                raise ValueError(f"{name} has nothing left after debiasing (its debiased HSIC with "
                                 f"itself is {self.self_hsic:.3g}): debiased CKA is undefined")

    @classmethod
    def from_features(cls, f, debiased: bool, name: str, method: str = "auto", xp=None):
        """Prepare (N, D) features of any real dtype (``as_features(..., convert=False)``): keep
        them centred in float64 (``method="features"``) or only their centred Gram matrix
        (``"gram"``). ``"auto"``: the Gram matrix when 2 D >= N, the cheaper choice against a
        partner of the same width (see :func:`linear_cka`)."""
        xp = array_module(f) if xp is None else xp
        n, d = f.shape
        if method == "gram" or (method == "auto" and 2 * d >= n):
            gram = centered_gram(f, name, xp)  # already H K H: the features are centred
            if debiased:
                scale = abs_max(gram)
                gram = _center_gram(gram, True, xp)
                _check_centered_gram(gram, scale, name, True)
            return cls(xp, debiased, name, gram=gram)
        fc = xp.asarray(f, dtype=xp.float64)
        if not np.isfinite(float(fc.sum())):
            raise_if_not_finite(fc, name, xp)
        return cls(xp, debiased, name, features=center_features(fc, name, xp))

    @classmethod
    def from_gram(cls, k, debiased: bool, name: str):
        """Centre a symmetric (N, N) float64 Gram matrix / RSM, in place."""
        xp = array_module(k)
        scale = abs_max(k)
        kc = _center_gram(k, debiased, xp)
        _check_centered_gram(kc, scale, name, debiased)
        return cls(xp, debiased, name, gram=kc)


def _cross(a: Prepared, b: Prepared) -> float:
    """Unnormalised HSIC of two prepared representations (float64)."""
    xp = a.xp
    if a.gram is not None and b.gram is not None:
        return float(xp.vdot(a.gram.ravel(), b.gram.ravel()))
    if a.gram is None and b.gram is None:
        value = float(xp.linalg.norm(a.features.T @ b.features)) ** 2
        return value + _debias_terms(a, b) if a.debiased else value
    # One Gram, one set of features: <Kc, F F^T> = sum((Kc F) * F). Exact for the U-centred K
    # too, whose rows and columns sum to zero and whose diagonal is zero (it is a projection).
    gram, f = (a.gram, b.features) if a.gram is not None else (b.gram, a.features)
    return float(xp.vdot((gram @ f).ravel(), f.ravel()))


def _debias_terms(a: Prepared, b: Prepared) -> float:
    """Unbiased HSIC of centred features minus ||X^T Y||_F^2 (times N (N - 3)): from Song et al.'s
    eq. 5 with K = X X^T, whose rows sum to zero, and diag(K) = the squared row norms r_X,
    -N / (N - 2) r_X . r_Y + ||X||_F^2 ||Y||_F^2 / ((N - 1) (N - 2))."""
    n = a.n
    return -n / (n - 2) * float(a.rows @ b.rows) + a.total * b.total / ((n - 1) * (n - 2))


def cka_of(a: Prepared, b: Prepared) -> float:
    """CKA of two prepared representations, clipped to [-1, 1] against rounding."""
    if a.n != b.n:
        same_samples(a.n, b.n, (a.name, b.name))
    value = _cross(a, b) / np.sqrt(a.self_hsic * b.self_hsic)
    return float(min(1.0, max(-1.0, value)))


# --------------------------------------------------------------------------------------------
# Public measures


def check_rsm(k, name: str, xp, min_samples: int):
    """A square, finite float64 matrix of ``xp``; its symmetric part."""
    arr = as_float64(k, name, xp)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square N x N RSM / Gram matrix; got shape {arr.shape}")
    check_samples(arr.shape[0], min_samples, name)
    return _symmetric_part(arr)


def cka(K, L, debiased: bool = False) -> float:
    """CKA of two N x N representational similarity (Gram) matrices of the same samples.

    Parameters
    ----------
    K, L : array_like or cupy.ndarray, shape (N, N)
        Kernel matrices of two representations of the same N samples: linear or RBF Gram
        matrices, or any RSM (those of :func:`semrsm.rsm` and :func:`semrsm.semantic_rsm`
        included). Only the symmetric part ``(K + K.T) / 2`` enters: HSIC with a symmetric
        kernel ignores the rest, so an RSM from an approximate (asymmetric) matcher is accepted.
    debiased : bool
        Use the unbiased HSIC estimator of Song et al. (2012) (needs N >= 4). Debiased CKA
        can be slightly negative for unrelated representations.

    Returns
    -------
    float
        CKA in [0, 1] ([-1, 1] when debiased); 1 for ``cka(K, K)``.

    Raises
    ------
    ValueError
        Non-square or differently sized matrices, N < 2 (N < 4 when debiased), NaN or infinite
        entries (with their position), or a matrix that is constant after centring (CKA undefined).
    TypeError
        Complex or non-numeric input.

    Examples
    --------
    >>> import numpy as np, semrsm
    >>> x = np.random.default_rng(0).normal(size=(50, 8))
    >>> round(semrsm.cka(x @ x.T, x @ x.T), 12)
    1.0
    """
    debiased = check_flag(debiased, "debiased")
    xp = array_module(K, L)
    minimum = 4 if debiased else 2
    k = check_rsm(K, "K", xp, minimum)
    l_ = check_rsm(L, "L", xp, minimum)
    same_samples(k.shape[0], l_.shape[0], ("K", "L"))
    return cka_of(Prepared.from_gram(k, debiased, "K"), Prepared.from_gram(l_, debiased, "L"))


def linear_cka(X, Y, debiased: bool = False, method: str = "auto") -> float:
    """Linear CKA of two representations of the same N samples.

    Equals ``cka(X @ X.T, Y @ Y.T)``, computed in feature space, ``||Y^T X||_F^2 /
    (||X^T X||_F ||Y^T Y||_F)`` on centred features, when that is cheaper.

    Parameters
    ----------
    X, Y : array_like or cupy.ndarray, shape (N, D1, ...) and (N, D2, ...)
        Features; each sample is flattened (a conv map (N, C, H, W) becomes (N, C*H*W)).
    debiased : bool
        Use the unbiased HSIC estimator (N >= 4).
    method : {"auto", "features", "gram"}
        ``features``: D x D products, about N (D1 + D2)^2 / 2 multiply-adds and D^2 memory;
        ``gram``: N x N Gram matrices, about N^2 (D1 + D2) / 2 multiply-adds and N^2 memory.
        ``auto`` (default) takes the features when D1 + D2 < N, the Gram matrices otherwise.
        All three agree to rounding.

    Returns
    -------
    float
        Linear CKA in [0, 1] ([-1, 1] when debiased).

    Raises
    ------
    ValueError
        Different N, too few samples, non-finite values, or a representation that is constant
        across samples.
    TypeError
        Complex or non-numeric input.
    """
    debiased = check_flag(debiased, "debiased")
    method = check_choice(method, "method", LINEAR_METHODS)
    xp = array_module(X, Y)
    minimum = 4 if debiased else 2
    fx = as_features(X, "X", xp, min_samples=minimum, convert=False)
    fy = as_features(Y, "Y", xp, min_samples=minimum, convert=False)
    n = fx.shape[0]
    same_samples(n, fy.shape[0])
    if method == "auto":
        method = "features" if fx.shape[1] + fy.shape[1] < n else "gram"
    return cka_of(Prepared.from_features(fx, debiased, "X", method, xp),
                  Prepared.from_features(fy, debiased, "Y", method, xp))


def rbf_cka(X, Y, threshold: float = 1.0, debiased: bool = False, median: str = "all") -> float:
    """CKA with RBF kernels whose bandwidth is a fraction of the median distance.

    Parameters
    ----------
    X, Y : array_like or cupy.ndarray, shape (N, ...)
        Features; each sample is flattened.
    threshold : float
        ``sigma = threshold * sqrt(median squared distance)``, separately for X and Y (Kornblith
        et al. report 0.2, 0.4 and 0.8 besides the default 1).
    debiased : bool
        Use the unbiased HSIC estimator (N >= 4).
    median : {"all", "distinct"}
        The median's rule (:func:`gram_rbf`): ``"all"`` (default) over all N^2 squared distances,
        the zero diagonal included, as Kornblith et al.'s code, whose demo value it reproduces
        (``rbf_cka(X, Y, 0.5)`` = 0.65483); ``"distinct"`` over the non-zero distances between
        distinct samples, the bandwidth of :func:`semrsm.rsm`.

    Returns
    -------
    float
        RBF CKA in [0, 1] ([-1, 1] when debiased).

    Raises
    ------
    ValueError
        As :func:`linear_cka`; also when the median is 0 (with ``"all"``: most samples coincide).
    """
    debiased = check_flag(debiased, "debiased")
    threshold = check_threshold(threshold)
    median = check_median(median)
    xp = array_module(X, Y)
    minimum = 4 if debiased else 2
    fx = as_features(X, "X", xp, min_samples=minimum, convert=False)
    fy = as_features(Y, "Y", xp, min_samples=minimum, convert=False)
    same_samples(fx.shape[0], fy.shape[0])
    kx = rbf_from_features(fx, threshold, median, "X", xp)
    ky = rbf_from_features(fy, threshold, median, "Y", xp)
    return cka_of(Prepared.from_gram(kx, debiased, "X"), Prepared.from_gram(ky, debiased, "Y"))


# --------------------------------------------------------------------------------------------
# Minibatch CKA


def _layers(x, name: str):
    """An array, or a list/tuple/dict of arrays (layers) -> (labels, arrays, single)."""
    if isinstance(x, dict):
        if not x:
            raise ValueError(f"{name} is an empty dict of layers")
        return [str(k) for k in x], list(x.values()), False
    if isinstance(x, (list, tuple)):
        if not x:
            raise ValueError(f"{name} is an empty list of layers")
        return [str(i) for i in range(len(x))], list(x), False
    return ["0"], [x], True


class MinibatchCKA:
    """Linear CKA accumulated over minibatches (Nguyen, Raghu and Kornblith, ICLR 2021).

    Each batch contributes the unbiased HSIC estimate (Song et al. 2012) of its B samples; CKA is
    ``mean HSIC(X, Y) / sqrt(mean HSIC(X, X) mean HSIC(Y, Y))`` over the batches. So the whole
    data set never needs to fit in memory, and one batch holding every sample gives exactly the
    full-batch debiased linear CKA. Several layers can be fed at once (lists or dicts of
    arrays): the result is then every layer of ``x`` against every layer of ``y``, and each
    layer's Gram matrix is computed once per batch.

    Examples
    --------
    >>> import numpy as np
    >>> from semrsm import MinibatchCKA
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(1000, 32)); y = x @ rng.normal(size=(32, 16))
    >>> acc = MinibatchCKA()
    >>> for start in range(0, 1000, 250):
    ...     _ = acc.update(x[start:start + 250], y[start:start + 250])
    >>> 0.0 < acc.compute() <= 1.0
    True
    """

    def __init__(self):
        self.reset()

    def reset(self) -> "MinibatchCKA":
        """Forget every batch seen so far."""
        self._xy = self._xx = self._yy = None
        self._structure = None
        self.labels_a: Optional[list] = None
        self.labels_b: Optional[list] = None
        self.batches = 0
        self.samples = 0
        return self

    @staticmethod
    def _u_centred(arrays, labels, name: str, xp, n: Optional[int]):
        grams = []
        for label, x in zip(labels, arrays):
            where = name if len(arrays) == 1 else f"{name}[{label!r}]"
            f = as_features(x, where, xp, min_samples=4, convert=False)
            if n is not None and f.shape[0] != n:
                raise ValueError(f"every layer of a batch must have the same number of samples; "
                                 f"{where} has {f.shape[0]}, expected {n}")
            n = f.shape[0]
            grams.append(_center_gram(centered_gram(f, where, xp, allow_constant=True), True, xp).ravel())
        return xp.stack(grams), n

    def update(self, x, y=None) -> "MinibatchCKA":
        """Add one minibatch.

        Parameters
        ----------
        x : array (B, ...) or list/dict of such arrays (layers)
            Features of the batch's B >= 4 samples (flattened per sample).
        y : same kinds as x, optional
            The other representation(s) of the same B samples; omitted: ``x`` against itself.
            The number of layers and their labels must stay the same from batch to batch.

        Returns
        -------
        MinibatchCKA
            ``self``, so calls can be chained.
        """
        labels_a, arrays_a, single_a = _layers(x, "x")
        labels_b, arrays_b, single_b = (labels_a, arrays_a, single_a) if y is None else _layers(y, "y")
        structure = (tuple(labels_a), single_a, tuple(labels_b), single_b, y is None)
        if self._structure is not None and structure != self._structure:
            raise ValueError("the layers of this batch differ from those of the first batch "
                             f"(x: {labels_a}, y: {labels_b} vs x: {self.labels_a}, y: {self.labels_b})")
        xp = array_module(*arrays_a, *arrays_b)
        ua, n = self._u_centred(arrays_a, labels_a, "x", xp, None)
        ub = ua if y is None else self._u_centred(arrays_b, labels_b, "y", xp, n)[0]
        scale = 1.0 / (n * (n - 3))
        xy = (ua @ ub.T) * scale
        xx = xp.einsum("ij,ij->i", ua, ua) * scale
        yy = xx if y is None else xp.einsum("ij,ij->i", ub, ub) * scale
        if self._xy is None:
            self._xy, self._xx, self._yy = xy, xx, yy
            self._structure, self.labels_a, self.labels_b = structure, labels_a, labels_b
        else:
            if array_module(self._xy) is not xp:
                raise TypeError("batches mix NumPy and CuPy arrays; feed every batch from the same device")
            self._xy += xy
            self._xx += xx
            self._yy += yy
        self.batches += 1
        self.samples += n
        return self

    def compute(self):
        """CKA over the batches seen so far.

        Returns
        -------
        float or ndarray of float64, shape (len(x layers), len(y layers))
            A float when single arrays were fed, else the matrix (NumPy) of every pair of layers,
            labelled by ``labels_a`` and ``labels_b``.

        Raises
        ------
        ValueError
            Before the first batch, or when a layer has no variance (its accumulated unbiased
            HSIC with itself is not positive).
        """
        if self._xy is None:
            raise ValueError("MinibatchCKA has seen no batch yet; call update() first")
        xy, xx, yy = (to_numpy(a) for a in (self._xy, self._xx, self._yy))
        for label, value, side in [(lb, v, "x") for lb, v in zip(self.labels_a, xx)] + \
                                  [(lb, v, "y") for lb, v in zip(self.labels_b, yy)]:
            if not value > 0.0:
                where = side if self._structure[1 if side == "x" else 3] else f"{side}[{label!r}]"
                raise ValueError(f"{where} has no variance over the batches seen (its unbiased HSIC "
                                 f"with itself is {value:.3g}): CKA is undefined")
        values = np.clip(xy / np.sqrt(np.outer(xx, yy)), -1.0, 1.0)
        if self._structure[1] and self._structure[3]:
            return float(values[0, 0])
        return values
