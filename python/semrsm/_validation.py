"""Input checks shared by every public function: one place that says what was wrong and where."""

from __future__ import annotations

import numpy as np

__all__ = ["array_module", "as_finite_samples", "as_real_array", "engine_dtype", "first_bad_index", "format_index", "is_cupy_array",
           "positive_number", "to_numpy"]

_ENGINE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_cupy_array(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def array_module(*arrays):
    """Return ``cupy`` when any argument is a CuPy array, else ``numpy``."""
    if any(is_cupy_array(a) for a in arrays):
        import cupy

        return cupy
    return np


def to_numpy(a):
    """A NumPy view or copy of ``a`` (a CuPy array is copied to the host)."""
    return a.get() if is_cupy_array(a) else np.asarray(a)


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
    return np.ascontiguousarray(arr, dtype=dtype)


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
    finite = array_module(arr).isfinite(arr)
    if not bool(finite.all()):
        bad = first_bad_index(~to_numpy(finite))
        raise ValueError(f"{name}{format_index(bad)} is {to_numpy(arr[bad])}; samples must be finite")
    return arr if xp is np else xp.asarray(arr)


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


def format_index(index) -> str:
    return "[" + ", ".join(str(int(k)) for k in index) + "]"


def first_bad_index(mask: np.ndarray):
    """Index tuple of the first True entry of ``mask`` (C order), or None."""
    flat = np.flatnonzero(mask.ravel())
    if flat.size == 0:
        return None
    return np.unravel_index(flat[0], mask.shape)


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
