"""Input checks shared by every module: one place that says what was wrong and where.

Arrays for the engines (float32 kept, every other real type float64, C-contiguous, finite samples),
arrays for the similarity measures (float64, finite, enough samples), and the scalar options
(choices, counts, positive numbers) that many functions take.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from . import _core
from ._backend import array_module, is_cupy_array, to_numpy

__all__ = ["MAX_ENGINE_INT", "UnreliableResultWarning", "as_features", "as_finite_samples", "as_float64", "as_pairs", "as_real",
           "as_real_array", "check_choice", "check_count", "check_flag", "check_samples", "check_threads",
           "engine_dtype", "first_bad_index", "format_index", "max_threads", "positive_number", "raise_if_not_finite",
           "same_samples"]

_ENGINE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class UnreliableResultWarning(UserWarning):
    """A result was computed as asked, but says little: biased CKA that independent representations
    would nearly match, a Gram matrix far from symmetric, a cosine of an all-zero sample. The message
    names the remedy (debiased CKA, more samples, ...)."""


# --------------------------------------------------------------------------------------------
# Scalar options


def check_choice(value, name: str, choices, aliases=None) -> str:
    """``value`` if it is one of ``choices`` (or the name an alias stands for), else a ValueError
    listing them."""
    if aliases and isinstance(value, str) and value in aliases:
        return aliases[value]
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, choices))}")
    return value


#: The largest count the engines take (a C int): a window, a top-k, a number of columns.
MAX_ENGINE_INT = 2**31 - 1


def check_count(value, name: str, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """``value`` as a Python int in [``minimum``, ``maximum``] (booleans are refused), or a ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}; got {value!r}")
    return int(value)


def max_threads() -> int:
    """The most threads a call may ask for: 4 per core. More only add scratch space and thread start-up
    (threads=40000 made libgomp fail to create them and end the process)."""
    return 4 * int(_core.cpu_count())


def check_threads(threads) -> int:
    """Threads for the engine: an integer in [1, max_threads()], or None for all cores (0 for the engine)."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
    if threads > max_threads():
        raise ValueError(f"threads must be at most {max_threads()} (4 per core of the {_core.cpu_count()} "
                         f"here); got {threads!r}")
    return int(threads)


def check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def positive_number(value, name: str, *, allow_none: bool = False):
    """``value`` as a positive finite float (None passes through when ``allow_none``), or raise."""
    if value is None and allow_none:
        return None
    expected = "a positive finite number" + (" or None" if allow_none else "")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {expected}; got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return number


def as_pairs(pairs, n: int, m: int, name: str) -> np.ndarray:
    """``pairs`` (a sequence of (i, j), NumPy or CuPy) as a (P, 2) int64 NumPy array of indices into
    an n x m grid, or a ValueError."""
    try:
        arr = to_numpy(pairs) if is_cupy_array(pairs) else np.asarray(pairs)
    except Exception:
        arr = None
    if arr is not None and arr.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    if arr is None or arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a sequence of (i, j) integer pairs")
    if ((arr[:, 0] < 0) | (arr[:, 0] >= n) | (arr[:, 1] < 0) | (arr[:, 1] >= m)).any():
        raise ValueError(f"{name} holds a pair outside the {n} x {m} grid of samples")
    return arr.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Where a bad entry is


def format_index(index) -> str:
    return "[" + ", ".join(str(int(k)) for k in index) + "]"


def first_bad_index(mask: np.ndarray):
    """Index tuple of the first True entry of ``mask`` (C order), or None."""
    flat = np.flatnonzero(mask.ravel())
    if flat.size == 0:
        return None
    return np.unravel_index(flat[0], mask.shape)


def raise_if_not_finite(arr, name: str, xp, shape=None) -> None:
    """Raise naming the first NaN or infinity of ``arr`` (its index in ``shape``), if any."""
    finite = xp.isfinite(arr)
    if not bool(finite.all()):
        flat = int(xp.flatnonzero(~finite.ravel())[0])
        value = float(arr.ravel()[flat])
        index = np.unravel_index(flat, arr.shape if shape is None else shape)
        raise ValueError(f"{name}{format_index(index)} is {value}: similarity measures need finite values")


# --------------------------------------------------------------------------------------------
# Arrays for the engines


def engine_dtype(arr, name: str, ndims: tuple):
    """The dtype the engine takes for ``arr`` (NumPy or CuPy): float32 stays float32, every other
    real type becomes float64. Raises on complex or non-numeric data and on a wrong ndim."""
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        kind = "complex" if arr.dtype.kind == "c" else f"non-numeric ({arr.dtype})"
        raise TypeError(f"{name} must hold real numbers; got a {kind} array")
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}; got shape {arr.shape}")
    return np.float32 if arr.dtype == np.float32 else np.float64


def as_real_array(x, name: str, *, ndims: tuple[int, ...], allow_empty: bool = False) -> np.ndarray:
    """Convert ``x`` to a C-contiguous float32 or float64 NumPy array, or raise.

    float32 stays float32 (the engine's native type); every other real type becomes float64.
    Booleans, integers and non-contiguous arrays are accepted and converted once.
    """
    if (type(x) is np.ndarray and x.dtype in _ENGINE_DTYPES and x.flags.c_contiguous
            and x.ndim in ndims and x.size):
        return x  # the common case, without the cost of the checks below
    if hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray):
        raise TypeError(f"{name} is a GPU array; this function takes NumPy arrays on the CPU "
                        f"(copy it to the host with .get())")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and other non-array input
        raise TypeError(f"{name} could not be read as an array: {exc}") from None
    dtype = engine_dtype(arr, name, ndims)
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    _check_float64_range(arr, name)
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_float64_range(arr: np.ndarray, name: str) -> None:
    """Refuse finite values of a wider float type (longdouble) that float64 cannot hold: converted they
    would become +-inf, which the LAP reads as a forbidden assignment."""
    if arr.dtype.kind != "f" or arr.dtype.itemsize <= 8 or arr.size == 0:
        return
    limit = np.finfo(np.float64).max
    beyond = np.isfinite(arr) & (np.abs(arr) > limit)
    if beyond.any():
        index = first_bad_index(beyond)
        raise ValueError(f"{name}{format_index(index)} is {np.format_float_scientific(arr[index], precision=6)}, beyond the float64 range "
                         f"(|x| <= {limit:.6e}) the engines compute in; scale the input down")


def as_device_array(cp, x, name: str, ndims: tuple):
    """A C-contiguous float32 (kept) or float64 (every other real type) CuPy array, or raise."""
    if is_cupy_array(x):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:
            raise TypeError(f"{name} could not be read as an array: {exc}") from None
    return cp.ascontiguousarray(cp.asarray(arr, dtype=engine_dtype(arr, name, ndims)))


def as_finite_samples(x, name: str, *, ndims: tuple[int, ...], xp):
    """``x`` as a C-contiguous float32 or float64 array of module ``xp`` (NumPy or CuPy) with only
    finite entries, or raise. NumPy input is checked on the host (and copied to the GPU for CuPy),
    CuPy input on its device; only a failure brings anything back to say where."""
    if is_cupy_array(x):
        if xp is np:
            raise TypeError(f"{name} is a GPU array and device='cpu'; copy it to the host with .get()")
        arr = xp.ascontiguousarray(x, dtype=engine_dtype(x, name, ndims))
        if arr.size == 0:
            raise ValueError(f"{name} is empty (shape {arr.shape})")
    else:
        arr = as_real_array(x, name, ndims=ndims)
    # two passes without a temporary (NaN propagates through max and min); the mask only to say where
    if not (math.isfinite(float(arr.max())) and math.isfinite(float(arr.min()))):
        bad = first_bad_index(~to_numpy(array_module(arr).isfinite(arr)))
        raise ValueError(f"{name}{format_index(bad)} is {to_numpy(arr[bad])}; samples must be finite")
    return arr if xp is np else xp.asarray(arr)


# --------------------------------------------------------------------------------------------
# Arrays for the similarity measures: NumPy or CuPy, float64, finite


def as_real(x, name: str, min_ndim: int):
    """Check type and shape of ``x``; a NumPy or CuPy array in its own dtype (lists are read)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or not hasattr(x, "shape") or not isinstance(dtype, np.dtype):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists and other non-array input
            raise TypeError(f"{name} could not be read as an array: {exc}") from None
        dtype = x.dtype
    if dtype == object or dtype.kind not in "biuf":
        kind = "complex" if dtype.kind == "c" else f"non-numeric ({dtype})"
        raise TypeError(f"{name} must hold real numbers; got a {kind} array")
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must be at least {min_ndim}-D; got shape {tuple(x.shape)}")
    if 0 in tuple(x.shape):
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    return x


def _sum_is_finite(arr) -> bool:
    """One pass, no temporary: False for a NaN or an infinity, and also when finite values sum past
    the largest float (then raise_if_not_finite looks at each value)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(float(arr.sum())))


def as_float64(x, name: str, xp, *, min_ndim: int = 1):
    """``x`` as a float64 array of module ``xp``, after checking its type and finiteness."""
    arr = xp.asarray(as_real(x, name, min_ndim), dtype=xp.float64)
    if not _sum_is_finite(arr):
        raise_if_not_finite(arr, name, xp)
    return arr


def check_samples(n: int, minimum: int, name: str) -> None:
    if n < minimum:
        why = "the debiased (unbiased HSIC) estimator needs N >= 4" if minimum >= 4 else \
            f"a similarity of representations needs at least {minimum} samples"
        raise ValueError(f"{name} has {n} sample(s); {why}")


def same_samples(n_x: int, n_y: int, names=("X", "Y")) -> None:
    if n_x != n_y:
        raise ValueError(f"{names[0]} and {names[1]} must describe the same samples; got "
                         f"N = {n_x} and N = {n_y}")


def as_features(x, name: str, xp, *, min_samples: int = 2, convert: bool = True):
    """(N, ...) input -> (N, D) features, each sample flattened and checked to be finite: float64,
    or with ``convert=False`` in the input's own dtype (converted block by block later)."""
    if convert:
        arr = as_float64(x, name, xp)
    else:
        arr = as_real(x, name, 1)
        if arr.dtype.kind == "f" and not _sum_is_finite(arr):
            raise_if_not_finite(arr, name, array_module(arr))
    if arr.ndim < 2:
        raise ValueError(f"{name} must have a sample axis and at least one feature axis, shape (N, D) "
                         f"or (N, ...); got shape {tuple(arr.shape)} (use {name}[:, None] for one feature)")
    check_samples(arr.shape[0], min_samples, name)
    return arr.reshape(arr.shape[0], -1)
