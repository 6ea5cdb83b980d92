"""What one semantic RSM call is: its checked options, its validated samples with the norm data every
matcher reads, and the memory model that both engines size their chunks of pairs by."""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

import numpy as np

from .. import _core
from .._backend import is_cupy_array, to_numpy
from .._checks import MAX_ENGINE_INT, as_finite_samples, as_pairs, check_choice, check_count, check_threads
from .._floats import sample_exponents
from ..kernels import check_kernels, check_sigma, kernel_bytes
from ..lap._arrays import stable_argsort
from ._audit import DEFAULT_THRESHOLD, AuditPlan

__all__ = ["LAYOUTS", "MATCHERS", "NEAR_EXACT_GAP", "PARTIAL_WINDOWS", "Options", "Samples", "block_dtype",
           "block_values", "kernel_phase_bytes", "result_bytes"]

#: Matchers of the engine (cpp/engine/semantic.h), and the older names they are also known by.
MATCHERS = tuple(_core.MATCHERS)
#: "near_exact" stops once each pair is certified within this fraction of its objective of the optimum.
NEAR_EXACT_GAP = float(_core.NEAR_EXACT_GAP)
MATCHER_ALIASES = dict(_core.MATCHER_ALIASES)
#: Input layouts: (N, C, H, W) feature maps, (N, T, D) tokens, (N, S, C) position sets.
LAYOUTS = ("NCHW", "NTD", "NSC")
#: Where Batch-Optimal puts its short window (S mod window ranks): at the largest norms (the
#: default, as the authors' code) or at the smallest.
PARTIAL_WINDOWS = ("largest", "smallest")


@dataclasses.dataclass(frozen=True)
class Options:
    """The options of :func:`semrsm.semantic_rsm`, checked once."""

    kernels: list
    single_kernel: bool
    matcher: str
    window: int
    partial_window: str
    topk: int
    layout: Optional[str]
    return_perm: object  # True, False or the pairs asked for
    return_bound: bool
    sigma: Optional[float]
    threads: int
    max_memory: Optional[int]
    progress: Optional[bool]
    audit: Optional[AuditPlan] = None

    @classmethod
    def check(cls, *, kernel, matcher, window, topk, layout, return_perm, return_bound, sigma, threads,
              max_memory, progress, partial_window="largest", audit=None, audit_threshold=DEFAULT_THRESHOLD,
              audit_seed=0) -> "Options":
        kernels, single = check_kernels(kernel)
        matcher = check_choice(matcher, "matcher", MATCHERS, MATCHER_ALIASES)
        layout = None if layout is None else check_choice(layout, "layout", LAYOUTS)
        window = check_count(window, "window", maximum=MAX_ENGINE_INT)
        topk = window if topk is None else check_count(topk, "topk", minimum=0, maximum=MAX_ENGINE_INT)
        if progress not in (None, True, False):
            raise ValueError(f"progress must be True, False or None; got {progress!r}")
        partial_window = check_choice(partial_window, "partial_window", PARTIAL_WINDOWS)
        return cls(kernels, single, matcher, window, partial_window, topk, layout, return_perm, bool(return_bound),
                   check_sigma(sigma), check_threads(threads) or _core.cpu_count(),
                   None if max_memory is None else check_count(max_memory, "max_memory"), progress,
                   AuditPlan.check(audit, audit_threshold, audit_seed))

    @property
    def partial_largest(self) -> bool:
        return self.partial_window == "largest"

    @property
    def all_perms(self) -> bool:
        return self.return_perm is True

    def requested_pairs(self, n: int, m: int) -> Optional[np.ndarray]:
        """The pairs whose permutations are asked for, (P, 2) int64, or None."""
        if self.return_perm is True or self.return_perm is False:
            return None
        return as_pairs(self.return_perm, n, m, "return_perm (True, False or pairs)")


_LAYOUT_NDIM = {"NCHW": 4, "NTD": 3, "NSC": 3, "NC": 2}
_LAYOUT_SHAPES = "(N, C, H, W) for 'NCHW', (N, T, D) for 'NTD', (N, S, C) for 'NSC'"


def _shape(arr) -> tuple:
    return tuple(arr.shape) if hasattr(arr, "shape") else np.shape(arr)


def _layout_of(arr, name: str) -> str:
    """The layout ``layout=None`` reads from the shape: 4-D is NCHW, 3-D (N, S, C), and 2-D (N, D)
    one position of D channels per sample ("NC")."""
    layouts = {4: "NCHW", 3: "NSC", 2: "NC"}
    if len(_shape(arr)) not in layouts:
        raise ValueError(f"{name} has shape {_shape(arr)}; semantic RSMs take {_LAYOUT_SHAPES}, or (N, D) "
                         f"(one position per sample)")
    return layouts[len(_shape(arr))]


def _positions(arr, name: str, layout: str, xp):
    """Validate one input and return it as (N, S, C), C-contiguous float32/float64, of module ``xp``."""
    ndim = len(_shape(arr))
    if ndim != _LAYOUT_NDIM[layout]:
        raise ValueError(f"{name} must be {_LAYOUT_NDIM[layout]}-D for layout {layout!r}; got shape {_shape(arr)}. "
                         f"Layouts: {_LAYOUT_SHAPES}; layout=None chooses from the shape")
    arr = as_finite_samples(arr, name, ndims=(ndim,), xp=xp)
    if layout == "NC":
        arr = arr[:, None, :]
    if 0 in arr.shape[1:]:
        raise ValueError(f"{name} has no positions or no channels (shape {arr.shape}, layout {layout})")
    if layout == "NCHW":
        n, c, h, w = arr.shape
        arr = xp.ascontiguousarray(arr.reshape(n, c, h * w).transpose(0, 2, 1))
    return arr


#: Values of x converted to float64 at a time by ``_position_sq_norms`` (2 MiB).
_NORM_BLOCK_VALUES = 1 << 18


def _norm_block_samples(shape) -> int:
    """Samples that ``_position_sq_norms`` converts at a time."""
    return min(shape[0], max(1, _NORM_BLOCK_VALUES // max(1, shape[1] * shape[2])))


def _position_sq_norms(x, xp):
    """Squared norm of every position, (N, S) float64, without a float64 copy of all of x."""
    out = xp.empty(x.shape[:2], dtype=xp.float64)
    step = _norm_block_samples(x.shape)
    for start in range(0, x.shape[0], step):
        block = x[start:start + step].astype(xp.float64)
        out[start:start + step] = xp.einsum("nsc,nsc->ns", block, block)
    return out


@dataclasses.dataclass
class Samples:
    """Validated samples as (N, S, C) position sets and what every matcher reads of them.

    ``order_*`` rank each sample's positions by decreasing norm (ties: lower position first),
    ``sorted_*`` hold those norms in that order, ``frob_*`` the squared Frobenius norms (float64).
    When symmetric, the y fields are the x ones.

    A sample whose largest magnitude lies outside [2^-40, 2^40) is held multiplied by a power of two,
    ``xs[i] = 2^exp_x[i] x[i]`` (exact; ``semrsm._floats.sample_exponents``), so that no cost block
    underflows or overflows even in float32: the cost blocks, objectives and bounds of a pair (i, j)
    are then 2^(exp_x[i] + exp_y[j]) times the true ones, with the same optimal permutations, and
    every norm here is that of the scaled sample. ``owned_bytes``: what these arrays take beyond the
    caller's own (copies of the samples, the norm data) and what preparing them took, for the memory
    model.
    """

    xp: object
    xs: object
    ys: object
    symmetric: bool
    order_x: object
    order_y: object
    sorted_x: object
    sorted_y: object
    frob_x: object
    frob_y: object
    exp_x: object
    exp_y: object
    owned_bytes: int

    @property
    def shape(self):
        """(N, M, S, C)."""
        return (self.xs.shape[0], self.ys.shape[0], *self.xs.shape[1:])

    @property
    def largest_norms(self) -> tuple[float, float]:
        """The largest position norm of x and of y (as held, rescaled), which decide the blocks' dtype."""
        return float(self.sorted_x[:, 0].max()), float(self.sorted_y[:, 0].max())

    @classmethod
    def prepare(cls, x, y, layout: Optional[str], xp, largest_norms: Optional[tuple] = None) -> "Samples":
        """``largest_norms``: the largest position norms of all the samples that x and y are parts of
        (default: of x and y), so that a part's cost blocks take the dtype of the whole job's
        (:func:`block_dtype`)."""
        layout = layout or _layout_of(x, "x")
        xs = _positions(x, "x", layout, xp)
        symmetric = y is None
        ys = xs if symmetric else _positions(y, "y", layout, xp)
        if ys.shape[1:] != xs.shape[1:]:
            raise ValueError(f"x and y must have the same positions S and channels C; got (S, C) = "
                             f"{xs.shape[1:]} for x and {ys.shape[1:]} for y")
        if xs.dtype != ys.dtype:
            xs, ys = xs.astype(xp.float64), ys.astype(xp.float64)
        exp_x = sample_exponents(xs, xp)
        exp_y = exp_x if symmetric else sample_exponents(ys, xp)
        xs = _rescaled(xs, x, exp_x, xp)
        ys = xs if symmetric else _rescaled(ys, y, exp_y, xp)
        S, C = xs.shape[1:]
        sq_x = _position_sq_norms(xs, xp)
        sq_y = sq_x if symmetric else _position_sq_norms(ys, xp)
        order_x = stable_argsort(-sq_x, xp).astype(xp.int32)
        order_y = order_x if symmetric else stable_argsort(-sq_y, xp).astype(xp.int32)
        sorted_x = xp.sqrt(xp.take_along_axis(sq_x, order_x, axis=1))
        sorted_y = sorted_x if symmetric else xp.sqrt(xp.take_along_axis(sq_y, order_y, axis=1))
        frob_x, frob_y = sq_x.sum(axis=1), sq_y.sum(axis=1)
        if largest_norms is None:
            largest_norms = (float(sorted_x[:, 0].max()), float(sorted_y[:, 0].max()))
        if block_dtype(xs.dtype, largest_norms) != xs.dtype:
            xs = xs.astype(xp.float64)
            ys = xs if symmetric else ys.astype(xp.float64)
        owned = sum(arr.nbytes for arr, source in ((xs, x), (ys, None if symmetric else y)) if _owns(arr, source))
        owned += sum(arr.nbytes for arr in {id(a): a for a in (order_x, order_y, sorted_x, sorted_y, frob_x,
                                                                   frob_y)}.values())
        # and what computing them took at once (the squared norms, their negation, the argsort's
        # int64 result), which the allocator may keep
        owned += 3 * (sq_x.nbytes + (0 if symmetric else sq_y.nbytes)) + 8 * _norm_block_samples(xs.shape) * S * C
        return cls(xp, xs, ys, symmetric, order_x, order_y, sorted_x, sorted_y, frob_x, frob_y, exp_x, exp_y,
                   owned)


def block_dtype(dtype, largest_norms: tuple) -> np.dtype:
    """The dtype the cost blocks of samples of ``dtype`` are computed in, given the largest position
    norms of x and y (rescaled, as ``Samples`` holds them).

    No partial sum of an inner product exceeds the product of the two largest position norms.
    Rescaled as in ``Samples`` that is at most C 2^80, inside float32; past float32 all the same
    (C > 2^46), the cost blocks are computed in float64."""
    dtype = np.dtype(dtype)
    if dtype == np.float32 and largest_norms[0] * largest_norms[1] >= float(np.finfo(np.float32).max) / 4:
        return np.dtype(np.float64)
    return dtype


def _owns(arr, source) -> bool:
    """Whether ``arr`` is memory of its own, not (a view of) the caller's ``source`` (None: no source)."""
    if source is None:
        return False
    if isinstance(source, np.ndarray) and not is_cupy_array(arr):
        return not np.may_share_memory(arr, source)
    return not (is_cupy_array(source) and is_cupy_array(arr) and arr.data.ptr == source.data.ptr)


def _rescaled(xs, source, exponents, xp):
    """``xs`` with sample i multiplied by 2^exponents[i]: a copy unless ``xs`` is already one."""
    if not bool(exponents.any()):
        return xs
    if not _owns(xs, source):
        xs = xs.copy()
    return xp.ldexp(xs, exponents[:, None, None], out=xs)


# --------------------------------------------------------------------------------------------
# The memory model: what a pair's cost blocks take, and what the results take


def block_values(S: int, matcher: str, window: int, topk: int) -> tuple[int, int]:
    """Values of the largest cost block a matcher solves at once, and of all blocks of one pair."""
    if matcher == "batch_optimal":
        k = min(window, S)
        return k * k, (S // k) * k * k + (S % k) ** 2
    if matcher == "topk_greedy":
        K = min(topk, S)
        return max(K, S - K) ** 2, K * K + (S - K) ** 2
    return S * S, S * S


def result_bytes(n: int, m: int, S: int, options: Options) -> int:
    """The N x M outputs that the pairs are solved into: objective, bound and, when asked for, every
    permutation (the kernels follow once they are solved: :func:`semrsm.kernels.kernel_bytes`)."""
    return 8 * n * m * (1 + options.return_bound) + (4 * n * m * S if options.all_perms else 0)


def kernel_phase_bytes(n: int, m: int, symmetric: bool, options: Options) -> int:
    """What the kernels hold besides the objective once every pair is solved (the inner kernel
    overwrites the objective)."""
    return kernel_bytes(n, m, options.kernels, options.sigma, symmetric, overwrite=True)


def too_small(options: Options, shape, need: int, what: str) -> ValueError:
    """The error for a budget below the least the call needs."""
    n, m = shape[:2]
    perms = " and all permutations (pass a list of pairs to return_perm)" if options.all_perms else ""
    return ValueError(f"max_memory={options.max_memory} bytes is too small for {n} x {m} results{perms} and "
                      f"{what}; need at least {need}")


def available_memory() -> int:
    """Bytes of RAM available now (MemAvailable), or a guess of 4 GiB where that cannot be read."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30
