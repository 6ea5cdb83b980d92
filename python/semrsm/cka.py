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

What the numbers mean. CKA is invariant to scaling either representation, so every input of
finite magnitude is first multiplied by the power of two that takes its largest entry to [0.5, 1)
(exact): nothing overflows or underflows, and a NaN is never clipped into range (a result that is
not finite raises). Of N = 2 samples CKA is 1 whatever they are, and is refused (N >= 3; N >= 4
debiased). Biased CKA is inflated when the representations have about as many effective dimensions
as there are samples (N << D): unrelated ones score sqrt(r_X r_Y) / (N - 1) on average, r the
effective rank (:func:`chance_level`; 0.98 for independent Gaussian features with N = 12, D = 1000),
and an :class:`semrsm.UnreliableResultWarning` names the remedy (``debiased=True``, more samples)
when that is 1/2 or more. The debiased estimator is 0 on average for unrelated representations.
"""

from __future__ import annotations

import math
import warnings
from typing import Optional

import numpy as np

from ._backend import array_module, to_numpy
from ._checks import (UnreliableResultWarning, as_features, as_float64, check_choice, check_flag, check_samples,
                      positive_number, same_samples)
from ._gram import (CONSTANT_RTOL, MIRROR_ROWS, abs_max, center_features, centered_gram, finite_exponent,
                    rbf_from_features)

__all__ = ["LINEAR_METHODS", "RBF_MEDIANS", "MinibatchCKA", "Prepared", "check_median", "check_rsm", "cka", "cka_of",
           "gram_linear", "gram_rbf", "linear_cka", "rbf_cka"]

#: A debiased self-HSIC computed in feature space is zero when it is below this fraction of its
#: largest term: the closed form cancels terms, so rounding can leave a tiny (even negative) rest.
_CANCEL_RTOL = 1e-10
#: How :func:`linear_cka` computes: in feature space, through Gram matrices, or whichever is cheaper.
LINEAR_METHODS = ("auto", "features", "gram")
#: Biased CKA warns when representations with the same spectra but unrelated would score at least
#: this on average (:func:`chance_level`): then its value says little about how related they are.
CHANCE_WARN = 0.5
#: ``cka`` warns when the antisymmetric part of K, centred, exceeds this fraction of its centred
#: symmetric part (Frobenius norms): CKA ignores it. An approximate matcher's RSM of x against a
#: copy of x stays well below (greedy on random ReLU features: 0.09); a cross RSM of two different
#: sets of samples does not.
ASYMMETRY_WARN = 0.25


def check_threshold(threshold) -> float:
    return positive_number(threshold, "threshold")


def check_cka_samples(n: int, debiased: bool, name: str) -> None:
    """N >= 4 for the debiased estimator, N >= 3 for the biased one: of N = 2 samples, CKA is 1
    whatever they are."""
    if debiased:
        check_samples(n, 4, name)
    elif n < 3:
        raise ValueError(f"{name} has {n} sample(s); CKA needs at least 3: of 2 samples it is 1 whatever they are "
                         f"(centred, every 2 x 2 Gram matrix is a multiple of [[1, -1], [-1, 1]])")


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
    return rbf_from_features(as_features(x, "X", xp, min_samples=1, convert=False), threshold, median, "X", xp)


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

    __slots__ = ("xp", "n", "debiased", "name", "features", "gram", "rows", "total", "self_hsic", "trace")

    def __init__(self, xp, debiased: bool, name: str, *, features=None, gram=None):
        self.xp, self.debiased, self.name = xp, debiased, name
        self.features, self.gram = features, gram
        self.n = (features if features is not None else gram).shape[0]
        self.rows = self.total = None
        if features is None:
            self.self_hsic = float(xp.vdot(gram.ravel(), gram.ravel()))
            self.trace = float(xp.trace(gram))
            return
        self.self_hsic = float(xp.linalg.norm(features.T @ features)) ** 2
        self.trace = float(xp.vdot(features.ravel(), features.ravel()))  # tr(Xc Xc^T)
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
        """Prepare (N, D) features of any real dtype and any finite magnitude
        (``as_features(..., convert=False)``): keep them centred in float64 (``method="features"``)
        or only their centred Gram matrix (``"gram"``), either times a power of two that keeps every
        HSIC inside float64 (CKA is scale-invariant). ``"auto"``: the Gram matrix when 2 D >= N, the
        cheaper choice against a partner of the same width (see :func:`linear_cka`)."""
        xp = array_module(f) if xp is None else xp
        n, d = f.shape
        if method == "gram" or (method == "auto" and 2 * d >= n):
            gram, _ = centered_gram(f, name, xp)  # already H K H: the features are centred
            if debiased:
                scale = abs_max(gram)
                gram = _center_gram(gram, True, xp)
                _check_centered_gram(gram, scale, name, True)
            return cls(xp, debiased, name, gram=gram)
        return cls(xp, debiased, name, features=center_features(f, name, xp))

    @classmethod
    def from_gram(cls, k, debiased: bool, name: str):
        """Centre a symmetric (N, N) float64 Gram matrix / RSM of any finite magnitude, in place,
        after multiplying it by the power of two that takes its largest entry to [0.5, 1)."""
        xp = array_module(k)
        xp.ldexp(k, -finite_exponent(k, name, xp), out=k)
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


def chance_level(a: Prepared, b: Prepared) -> float:
    """The mean biased CKA of two representations with the spectra of ``a`` and ``b`` but unrelated:
    with Kc, Lc the centred Gram matrices, and Lc's eigenvectors turned by a random rotation of the
    N - 1 dimensions that centring leaves, E <Kc, Lc> = tr(Kc) tr(Lc) / (N - 1), so

        E CKA = sqrt(r_a r_b) / (N - 1),   r = tr(Kc)^2 / ||Kc||_F^2

    where r, the effective rank, is at most N - 1. It is near 1 when both representations have
    about as many effective dimensions as samples (N << D: Kc is nearly a multiple of the
    centring matrix, whatever the data), which is the bias that debiased CKA removes."""
    return a.trace * b.trace / ((a.n - 1) * math.sqrt(a.self_hsic) * math.sqrt(b.self_hsic))


def cka_of(a: Prepared, b: Prepared) -> float:
    """CKA of two prepared representations, clipped to [-1, 1] against rounding (a NaN or an
    infinity, never: they raise). Biased CKA warns when its :func:`chance_level` is CHANCE_WARN or
    more."""
    if a.n != b.n:
        same_samples(a.n, b.n, (a.name, b.name))
    cross = _cross(a, b)
    value = cross / (math.sqrt(a.self_hsic) * math.sqrt(b.self_hsic))
    if not math.isfinite(value):
        raise ValueError(f"CKA of {a.name} and {b.name} is {value}: HSIC overflowed float64 (HSIC({a.name}, "
                         f"{b.name}) = {cross:.3g}, HSIC({a.name}, {a.name}) = {a.self_hsic:.3g}, HSIC({b.name}, "
                         f"{b.name}) = {b.self_hsic:.3g}, unnormalised)")
    if not a.debiased:
        chance = chance_level(a, b)
        if chance >= CHANCE_WARN:
            ranks = [p.trace ** 2 / p.self_hsic for p in (a, b)]
            warnings.warn(f"biased CKA of {a.name} and {b.name} says little with N = {a.n} samples: unrelated "
                          f"representations with their spectra score {chance:.2f} on average (effective ranks "
                          f"{ranks[0]:.1f} and {ranks[1]:.1f} of at most N - 1 = {a.n - 1}); use debiased=True, or "
                          f"more samples than effective dimensions", UnreliableResultWarning, stacklevel=3)
    return float(min(1.0, max(-1.0, value)))


# --------------------------------------------------------------------------------------------
# Public measures


def check_rsm(k, name: str, xp, min_samples: int):
    """A square, finite float64 matrix of ``xp``: its symmetric part, times the power of two that takes
    its largest entry to [0.5, 1) (so that the sum cannot overflow; CKA is scale-invariant). Warns
    when K is far from symmetric (:data:`ASYMMETRY_WARN`)."""
    arr = as_float64(k, name, xp)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square N x N RSM / Gram matrix; got shape {arr.shape}")
    check_samples(arr.shape[0], min_samples, name)
    scaled = xp.ldexp(arr, -finite_exponent(arr, name, xp))
    asymmetry = centred_asymmetry(scaled)
    if asymmetry > ASYMMETRY_WARN:
        warnings.warn(f"{name} is not symmetric: its antisymmetric part, centred, is {asymmetry:.2g} times its "
                      f"symmetric part, and CKA uses only (K + K^T) / 2. A Gram matrix or RSM of one set of samples "
                      f"is symmetric; is {name} an RSM of two different sets?", UnreliableResultWarning, stacklevel=3)
    return _symmetric_part(scaled)


def centred_asymmetry(m) -> float:
    """||H A H||_F / ||H S H||_F for S = (M + M^T) / 2, A = (M - M^T) / 2 and H the centring matrix
    (0 when H S H = 0), from sums over row blocks: ||H M H||^2 = ||M||^2 - (||M 1||^2 + ||M^T 1||^2) / N
    + (1^T M 1)^2 / N^2, with ||S||^2 and ||A||^2 from ||M||^2 and <M, M^T>."""
    xp = array_module(m)
    n = m.shape[0]
    squares = transposed = 0.0
    for start in range(0, n, MIRROR_ROWS):
        rows = m[start:start + MIRROR_ROWS]
        squares += float(xp.vdot(rows.ravel(), rows.ravel()))
        transposed += float((rows * m[:, start:start + MIRROR_ROWS].T).sum())
    row_sums, column_sums = m.sum(axis=1), m.sum(axis=0)
    total = float(row_sums.sum())
    symmetric_sums, antisymmetric_sums = (row_sums + column_sums) / 2, (row_sums - column_sums) / 2
    symmetric = (squares + transposed) / 2 - 2 * float(symmetric_sums @ symmetric_sums) / n + (total / n) ** 2
    antisymmetric = (squares - transposed) / 2 - 2 * float(antisymmetric_sums @ antisymmetric_sums) / n
    return math.sqrt(max(antisymmetric, 0.0) / symmetric) if symmetric > 0 else 0.0


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
        Non-square or differently sized matrices, N < 3 (N < 4 when debiased), NaN or infinite
        entries (with their position), or a matrix that is constant after centring (CKA undefined).
    TypeError
        Complex or non-numeric input.

    Warns
    -----
    UnreliableResultWarning
        Biased CKA whose chance level is 1/2 or more (see the module), or a K or L whose
        antisymmetric part, centred, exceeds 1/4 of its symmetric part (a cross RSM of two sets of
        samples, not a kernel matrix: only the symmetric part enters).

    Examples
    --------
    >>> import numpy as np, semrsm
    >>> x = np.random.default_rng(0).normal(size=(50, 8))
    >>> round(semrsm.cka(x @ x.T, x @ x.T), 12)
    1.0
    """
    debiased = check_flag(debiased, "debiased")
    xp = array_module(K, L)
    k = check_rsm(K, "K", xp, 1)
    l_ = check_rsm(L, "L", xp, 1)
    check_cka_samples(k.shape[0], debiased, "K")
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
        Different N, too few samples (N < 3, N < 4 debiased), non-finite values, or a representation
        that is constant across samples.
    TypeError
        Complex or non-numeric input.

    Warns
    -----
    UnreliableResultWarning
        Biased CKA whose chance level is 1/2 or more: N too small for the effective dimensions
        (see the module); use ``debiased=True`` or more samples.
    """
    debiased = check_flag(debiased, "debiased")
    method = check_choice(method, "method", LINEAR_METHODS)
    xp = array_module(X, Y)
    fx, fy = _feature_pair(X, Y, debiased, xp)
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

    Warns
    -----
    UnreliableResultWarning
        As :func:`linear_cka`. A small threshold makes every RBF Gram matrix nearly the identity,
        whose chance level is near 1.

    Notes
    -----
    Any positive finite threshold is taken: as it tends to 0 both kernels tend to the identity and
    CKA to 1; as it grows, RBF CKA tends to linear CKA (exp(-z) = 1 - z + ..., and centring removes
    the 1). Squared distances within the rounding of their computation are 0 (identical samples).
    """
    debiased = check_flag(debiased, "debiased")
    threshold = check_threshold(threshold)
    median = check_median(median)
    xp = array_module(X, Y)
    fx, fy = _feature_pair(X, Y, debiased, xp)
    kx = rbf_from_features(fx, threshold, median, "X", xp, minus_one=True)
    ky = rbf_from_features(fy, threshold, median, "Y", xp, minus_one=True)
    return cka_of(Prepared.from_gram(kx, debiased, "X"), Prepared.from_gram(ky, debiased, "Y"))


def _feature_pair(X, Y, debiased: bool, xp):
    """Both representations as (N, D) features in their own dtypes, checked for CKA."""
    fx = as_features(X, "X", xp, min_samples=1, convert=False)
    fy = as_features(Y, "Y", xp, min_samples=1, convert=False)
    check_cka_samples(fx.shape[0], debiased, "X")
    same_samples(fx.shape[0], fy.shape[0])
    return fx, fy


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

    Batches may differ in magnitude by any finite factor: the sums are kept as mantissas and powers
    of two per layer, so a batch 1e150 times larger dominates them as it should, and batches far
    below the largest add what they are worth (down to nothing), instead of overflowing.

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
        # HSIC sums as mantissas and per-layer powers of two: the sum over batches of HSIC(a, b) is
        # _xy[a, b] * 2^(_gx[a] + _gy[b]), and _xx[a] * 2^(2 _gx[a]), _yy[b] * 2^(2 _gy[b]), so that
        # batches of any finite magnitude add up (those far below the largest underflow to 0, their
        # share of the sum). _yy and _gy are None when x is compared with itself.
        self._xy = self._xx = self._yy = None
        self._gx = self._gy = None
        self._structure = None
        self.labels_a: Optional[list] = None
        self.labels_b: Optional[list] = None
        self.batches = 0
        self.samples = 0
        return self

    @staticmethod
    def _u_centred(arrays, labels, name: str, xp, n: Optional[int]):
        """The U-centred Gram matrices of a batch's layers, flattened, and each one's power of two:
        the true one is ``ldexp(row, exponent)``."""
        grams, exponents = [], []
        for label, x in zip(labels, arrays):
            where = name if len(arrays) == 1 else f"{name}[{label!r}]"
            f = as_features(x, where, xp, min_samples=4, convert=False)
            if n is not None and f.shape[0] != n:
                raise ValueError(f"every layer of a batch must have the same number of samples; "
                                 f"{where} has {f.shape[0]}, expected {n}")
            n = f.shape[0]
            gram, exponent = centered_gram(f, where, xp, allow_constant=True)
            grams.append(_center_gram(gram, True, xp).ravel())
            exponents.append(2 * exponent)
        return xp.stack(grams), np.array(exponents), n

    def _check_structure(self, structure) -> None:
        if self._structure is None or structure == self._structure:
            return
        labels_a, single_a, labels_b, single_b, itself = structure

        def side(labels, single):
            return "one array" if single else f"layers {list(labels)}"

        first, now = self._structure, structure
        if first[4] != itself:
            was, becomes = ("x with itself (update(x))", "passes y") if first[4] else \
                ("x with y (update(x, y))", "passes no y")
            raise ValueError(f"the first batch compared {was}; this one {becomes}: every batch must compare the "
                             f"same representations")
        for where, before, after in (("x", first[:2], now[:2]), ("y", first[2:4], now[2:4])):
            if before != after:
                raise ValueError(f"the {where} of this batch differs from that of the first batch: {side(*after)} "
                                 f"where the first had {side(*before)}")

    def update(self, x, y=None) -> "MinibatchCKA":
        """Add one minibatch.

        Parameters
        ----------
        x : array (B, ...) or list/dict of such arrays (layers)
            Features of the batch's B >= 4 samples (flattened per sample), of any finite magnitude.
        y : same kinds as x, optional
            The other representation(s) of the same B samples; omitted: ``x`` against itself.
            The number of layers and their labels must stay the same from batch to batch, and so
            must whether y is given.

        Returns
        -------
        MinibatchCKA
            ``self``, so calls can be chained.
        """
        labels_a, arrays_a, single_a = _layers(x, "x")
        labels_b, arrays_b, single_b = (labels_a, arrays_a, single_a) if y is None else _layers(y, "y")
        structure = (tuple(labels_a), single_a, tuple(labels_b), single_b, y is None)
        self._check_structure(structure)
        xp = array_module(*arrays_a, *arrays_b)
        if self._xy is not None and array_module(self._xy) is not xp:
            raise TypeError("batches mix NumPy and CuPy arrays; feed every batch from the same device")
        ua, gx, n = self._u_centred(arrays_a, labels_a, "x", xp, None)
        scale = 1.0 / (n * (n - 3))
        xx = xp.einsum("ij,ij->i", ua, ua) * scale
        if y is None:
            xy, yy, gy = (ua @ ua.T) * scale, None, None
        else:
            ub, gy, _ = self._u_centred(arrays_b, labels_b, "y", xp, n)
            xy = (ua @ ub.T) * scale
            yy = xp.einsum("ij,ij->i", ub, ub) * scale
        if self._xy is None:
            self._xy, self._xx, self._yy, self._gx, self._gy = xy, xx, yy, gx, gy
            self._structure, self.labels_a, self.labels_b = structure, labels_a, labels_b
        else:
            self._add(xp, xy, xx, yy, gx, gy)
        self.batches += 1
        self.samples += n
        return self

    def _add(self, xp, xy, xx, yy, gx, gy) -> None:
        """Add a batch's HSIC values (powers of two gx, gy per layer) to the sums, on the larger of
        the two exponents of each layer."""
        new_gx = np.maximum(self._gx, gx)
        new_gy = new_gx if gy is None else np.maximum(self._gy, gy)
        old_gy, gy = (self._gx, gx) if gy is None else (self._gy, gy)

        def shift(before, after):
            return xp.asarray(before - after, dtype=xp.int32)

        self._xy = (xp.ldexp(self._xy, shift(self._gx, new_gx)[:, None] + shift(old_gy, new_gy)[None, :])
                    + xp.ldexp(xy, shift(gx, new_gx)[:, None] + shift(gy, new_gy)[None, :]))
        self._xx = xp.ldexp(self._xx, 2 * shift(self._gx, new_gx)) + xp.ldexp(xx, 2 * shift(gx, new_gx))
        if yy is not None:
            self._yy = xp.ldexp(self._yy, 2 * shift(self._gy, new_gy)) + xp.ldexp(yy, 2 * shift(gy, new_gy))
            self._gy = new_gy
        self._gx = new_gx

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
        xy, xx = to_numpy(self._xy), to_numpy(self._xx)
        yy = xx if self._yy is None else to_numpy(self._yy)
        for label, value, side in [(lb, v, "x") for lb, v in zip(self.labels_a, xx)] + \
                                  [(lb, v, "y") for lb, v in zip(self.labels_b, yy)]:
            if not value > 0.0:
                where = side if self._structure[1 if side == "x" else 3] else f"{side}[{label!r}]"
                raise ValueError(f"{where} has no variance over the batches seen (its unbiased HSIC "
                                 f"with itself is {value:.3g}): CKA is undefined")
        # the powers of two cancel: 2^(gx + gy) / sqrt(2^(2 gx) 2^(2 gy))
        values = np.clip(xy / np.outer(np.sqrt(xx), np.sqrt(yy)), -1.0, 1.0)
        if self._structure[1] and self._structure[3]:
            return float(values[0, 0])
        return values
