"""Kernels of an RSM from one number per pair (DESIGN.md, "One number per pair").

Every kernel follows from the inner product of the (aligned) pair and the two squared norms, in
float64; no aligned vectors are ever built:

    inner(i, j)  = obj(i, j)
    cosine(i, j) = obj(i, j) / (||x_i|| ||y_j||)                (0 where a norm is 0)
    sqdist(i, j) = ||x_i||^2 + ||y_j||^2 - 2 obj(i, j)           (clamped at 0)
    rbf(i, j)    = exp(-sqdist / (2 sigma^2))

with sigma a number, or chosen from the squared distances by the rule that ``sigma`` names:

    "median"   sigma^2 = the median of the non-zero sqdist over distinct pairs (the default)
    "authors"  sigma = sqrt(m) + 1e-3, with m the lower median of the non-zero sqdist over the
               pairs i >= j (every pair when y is given): the rule of the code of Wald et al.
               (2024), which takes torch.median (the lower of the two middle values when their
               count is even) and adds 1e-3 to sigma against a zero bandwidth.

The two medians differ only in averaging the two middle values, or not, when their count is even.
The diagonal is exact here (distance 0), so over i >= j and i > j the non-zero distances are the
same; the authors' diagonal, solved by their matcher, is 0 too for the exact ones.

Numerics. A squared distance within the rounding of its own computation (``rounding`` times
||x_i||^2 + ||y_j||^2, :func:`semrsm._floats.distance_rounding`) is 0: identical samples are at
distance 0, and a rounding residue is never taken for the median distance. An all-zero sample has
cosine 0 with every sample, itself included (its cosine is undefined; a warning says so). The
objective and norms may come for samples multiplied by powers of two (``exponents``): the cosine is
computed from those directly (it is invariant), the squared distances at one common scale, and the
inner products scaled back, a ValueError where they exceed float64. Kernels are computed a block of
rows at a time into their outputs, so that their temporaries stay within a few MiB
(:func:`kernel_bytes` is what they hold).
"""

from __future__ import annotations

import math
import warnings
from typing import Optional, Sequence, Union

import numpy as np

from ._backend import array_module
from ._checks import UnreliableResultWarning, check_choice, positive_number
from ._floats import divide_by_two_squares
from ._gram import zero_residues

__all__ = ["KERNELS", "SIGMA_RULES", "check_kernels", "check_sigma", "kernel_bytes", "kernels_from_objective",
           "median_distance", "median_of_blocks", "rbf_of_distances", "smallest_exponent", "squared_distances",
           "unscale"]

#: Kernel names understood by :func:`semrsm.rsm` and :func:`semrsm.semantic_rsm`.
KERNELS = ("inner", "cosine", "rbf")
#: Rules for the RBF bandwidth when no number is given (``sigma=None`` is "median").
SIGMA_RULES = ("median", "authors")
#: The authors' offset on sigma (Wald et al.'s code: "to avoid overflows by zero").
AUTHORS_SIGMA_OFFSET = 1e-3
#: Values of a block of rows (1 MiB of float64), and the bytes of temporaries per value of a block
#: at most (the RBF block: norms' sums, exponents, a mask and the operands in flight).
BLOCK_VALUES = 1 << 17
_SCRATCH_PER_VALUE = 40


def check_kernels(kernel: Union[str, Sequence[str]]) -> tuple[list, bool]:
    """Validate ``kernel`` (a name or a list of names); return (names, whether one name was given)."""
    single = isinstance(kernel, str)
    names = [kernel] if single else list(kernel) if isinstance(kernel, (list, tuple)) else None
    if not names:
        raise ValueError(f"kernel must be one of {', '.join(map(repr, KERNELS))} or a non-empty list of "
                         f"them; got {kernel!r}")
    for name in names:
        check_choice(name, "kernel", KERNELS)
    return list(dict.fromkeys(names)), single


def check_sigma(sigma) -> Union[float, str]:
    """A positive bandwidth, or the name of a rule of :data:`SIGMA_RULES` (None: "median")."""
    if sigma is None:
        return "median"
    if isinstance(sigma, str):
        if sigma not in SIGMA_RULES:
            raise ValueError(f"sigma must be a positive number or one of {', '.join(map(repr, SIGMA_RULES))}; "
                             f"got {sigma!r}")
        return sigma
    return positive_number(sigma, "sigma")


def kernel_bytes(n: int, m: int, kernels: Sequence[str], sigma: Union[float, str], symmetric: bool,
                 overwrite: bool) -> int:
    """Bytes that :func:`kernels_from_objective` holds besides its inputs: an N x M float64 RSM per
    kernel (none for "inner" when it may overwrite the objective), the copy of the distances that a
    median rule selects from, and the temporaries of one block of rows."""
    outputs = sum(not (name == "inner" and overwrite) for name in kernels)
    median = 8 * _median_count(n, m, symmetric) if "rbf" in kernels and isinstance(sigma, str) else 0
    return 8 * n * m * outputs + median + _SCRATCH_PER_VALUE * min(n * m, max(BLOCK_VALUES, m))


def _median_count(n: int, m: int, symmetric: bool) -> int:
    return n * (n - 1) // 2 if symmetric else n * m


def _row_blocks(n: int, m: int):
    step = max(1, BLOCK_VALUES // max(1, m))
    return ((start, min(n, start + step)) for start in range(0, n, step))


def median_distance(sqdist, symmetric: bool, lower: bool = False) -> Optional[float]:
    """The median of the non-zero squared distances of an N x M matrix over the pairs i < j (every
    pair when not ``symmetric``): the mean of the two middle values when their count is even, or with
    ``lower`` the lower one (torch.median). None when every distance is 0. One copy of the distances
    (:func:`kernel_bytes`), selected in place."""
    xp = array_module(sqdist)
    n, m = sqdist.shape
    values = xp.empty(_median_count(n, m, symmetric))
    count = 0
    columns = xp.arange(m)
    for start, stop in _row_blocks(n, m):
        block = sqdist[start:stop]
        keep = block > 0
        if symmetric:
            keep &= columns[None, :] > xp.arange(start, stop)[:, None]
        chosen = block[keep]
        values[count:count + chosen.size] = chosen
        count += chosen.size
    if not count:
        return None
    values = values[:count]
    if lower:
        middle = (count - 1) // 2
        values.partition(middle)
        return float(values[middle])
    return float(xp.median(values, overwrite_input=True))


def kernels_from_objective(objective, sq_norms_x, sq_norms_y, kernels: Sequence[str], *, symmetric: bool,
                           sigma: Union[float, str] = "median", exponents=None, rounding: float = 0.0,
                           overwrite: bool = False) -> dict:
    """RSMs of every kernel in ``kernels`` from the N x M objective and the squared Frobenius norms.

    Parameters
    ----------
    objective, sq_norms_x, sq_norms_y : arrays (N, M), (N,), (M,) of float64, NumPy or CuPy
        The RSMs are of the same module.
    kernels : sequence of names of :data:`KERNELS`
    symmetric : bool
        x and y are the same samples: the diagonal is then exact (cosine 1, distance 0) and the RBF
        median runs over i < j only.
    sigma : float or a rule of :data:`SIGMA_RULES`
    exponents : (a, b), integer arrays (N,) and (M,), optional
        The inputs are those of the samples multiplied by 2^a_i and 2^b_j: ``objective[i, j] =
        2^(a_i + b_j) <x_i, y_j>``, ``sq_norms_x[i] = 2^(2 a_i) ||x_i||^2``. Default: all 0.
    rounding : float
        Squared distances up to ``rounding * (||x_i||^2 + ||y_j||^2)`` are 0
        (:func:`semrsm._floats.distance_rounding` of how the inputs were summed).
    overwrite : bool
        The "inner" RSM may be ``objective`` itself, scaled back in place (saves an N x M copy).

    Raises
    ------
    ValueError
        "inner" values beyond float64 (possible only with ``exponents``).
    """
    xp = array_module(objective)
    objective = xp.asarray(objective, dtype=xp.float64)
    nx = xp.asarray(sq_norms_x, dtype=xp.float64)
    ny = xp.asarray(sq_norms_y, dtype=xp.float64)
    if exponents is not None and not (bool(exponents[0].any()) or bool(exponents[1].any())):
        exponents = None
    out = {}
    if "cosine" in kernels:
        out["cosine"] = _cosine(objective, nx, ny, symmetric, xp)
    if "rbf" in kernels:
        out["rbf"] = _rbf(objective, nx, ny, symmetric, sigma, exponents, rounding, xp)
    if "inner" in kernels:
        out["inner"] = _inner(objective, exponents, overwrite, xp)
    return {name: out[name] for name in kernels}


def _cosine(objective, nx, ny, symmetric: bool, xp):
    _warn_zero_samples(nx, "x")
    if not symmetric:
        _warn_zero_samples(ny, "y")
    n, m = objective.shape
    cos = xp.empty((n, m))
    # a zero sample's objective is exactly 0: divided by inf it stays 0, where 0 / 0 would be NaN
    root_x = xp.where(nx > 0, xp.sqrt(nx), xp.inf)
    root_y = xp.where(ny > 0, xp.sqrt(ny), xp.inf)
    for start, stop in _row_blocks(n, m):
        scale = root_x[start:stop, None] * root_y[None, :]
        block = cos[start:stop]
        xp.divide(objective[start:stop], scale, out=block)
        xp.clip(block, -1.0, 1.0, out=block)
    if symmetric:
        diagonal = xp.arange(n)
        cos[diagonal, diagonal] = xp.where(nx > 0, 1.0, 0.0)
    return cos


def _warn_zero_samples(sq_norms, side: str) -> None:
    zero = int((sq_norms == 0).sum())
    if zero:
        first = int(array_module(sq_norms).flatnonzero(sq_norms == 0)[0])
        warnings.warn(f"{zero} sample(s) of {side} are all zero (the first: {first}): their cosine similarity "
                      f"is undefined, and is given as 0 with every sample, themselves included",
                      UnreliableResultWarning, stacklevel=6)


def _rbf(objective, nx, ny, symmetric: bool, sigma, exponents, rounding: float, xp):
    common = 0 if exponents is None else smallest_exponent(exponents, xp)
    sqdist = squared_distances(objective, nx, ny, exponents, rounding, common, xp)
    if symmetric:
        diagonal = xp.arange(objective.shape[0])
        sqdist[diagonal, diagonal] = 0.0
    median = median_distance(sqdist, symmetric, lower=sigma == "authors") if isinstance(sigma, str) else None
    return rbf_of_distances(sqdist, sigma, median, common, xp)


def smallest_exponent(exponents, xp) -> int:
    """The smallest power of two the samples were multiplied by (that of the largest samples): the
    scale 2^(2 g) at which no squared distance overflows."""
    a, b = (xp.asarray(e, dtype=xp.int32) for e in exponents)
    return min(int(a.min()), int(b.min()))


def squared_distances(objective, nx, ny, exponents, rounding: float, common: int, xp):
    """||x_i||^2 + ||y_j||^2 - 2 obj(i, j) at the scale 2^(2 common) (:func:`smallest_exponent` of all
    the samples of the RSM, which this block may be part of), rounding residues 0; elementwise, so a
    block of an RSM gets the values of the whole. ``exponents`` None: all 0. Distances of samples
    many orders below the largest underflow there, as they would next to the others' in float64."""
    n, m = objective.shape
    if exponents is None:
        shift = None
    else:
        a, b = (xp.asarray(e, dtype=xp.int32) for e in exponents)
        nx, ny = xp.ldexp(nx, 2 * (common - a)), xp.ldexp(ny, 2 * (common - b))
        shift = (common - a, common - b)
    sqdist = xp.empty((n, m))
    for start, stop in _row_blocks(n, m):
        block = sqdist[start:stop]
        sums = nx[start:stop, None] + ny[None, :]
        if shift is None:
            xp.multiply(objective[start:stop], -2.0, out=block)
        else:
            xp.ldexp(objective[start:stop], shift[0][start:stop, None] + shift[1][None, :], out=block)
            block *= -2.0
        block += sums
        zero_residues(block, sums, rounding, xp)
    return sqdist


def rbf_of_distances(sqdist, sigma, median: Optional[float], common: int, xp):
    """The RBF kernel from squared distances at the scale 2^(2 common), in place: with bandwidth
    ``sigma``, or for a rule of :data:`SIGMA_RULES` from the ``median`` it selected (None: every
    distance is 0, and every value 1 whatever sigma is)."""
    if isinstance(sigma, str):
        if median is None:
            sqdist.fill(1.0)
            return sqdist
        if sigma == "median":
            sqdist /= -2.0 * median  # the scale 2^(2 g) cancels
            return xp.exp(sqdist, out=sqdist)
        # the authors' offset is in the samples' units: sigma = sqrt(median) + 1e-3 at scale 1
        sigma = math.ldexp(math.sqrt(median), -common) + AUTHORS_SIGMA_OFFSET
    divide_by_two_squares(sqdist, sigma, xp, exponent=-2 * common)
    xp.negative(sqdist, out=sqdist)
    return xp.exp(sqdist, out=sqdist)


def median_of_blocks(blocks, lower: bool = False) -> Optional[float]:
    """The median of the positive float64 values that ``blocks()`` yields (a fresh iterator of 1-D
    arrays each time it is called), as :func:`median_distance` gives it for all of them at once, but
    holding one block at a time: the bits of the values at the middle ranks are found 16 at a time
    from histograms of 65536 bins (positive floats order as their bit patterns), eight passes over
    the blocks at most. None when there are no values."""
    levels = ((48, 16), (32, 16), (16, 16), (0, 16))  # (shift, bits) of the bit pattern, from the top

    def histogram(prefix_shift, prefix, shift, bits):
        counts = np.zeros(1 << bits, dtype=np.int64)
        for values in blocks():
            keys = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
            if prefix_shift is not None:
                keys = keys[(keys >> np.uint64(prefix_shift)) == np.uint64(prefix)]
                if not keys.size:
                    continue
            counts += np.bincount(((keys >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64),
                                  minlength=1 << bits)
        return counts

    def at_rank(rank, total_counts):
        prefix, prefix_shift, counts = 0, None, total_counts
        for shift, bits in levels:
            if counts is None:
                counts = histogram(prefix_shift, prefix, shift, bits)
            cumulative = np.cumsum(counts)
            index = int(np.searchsorted(cumulative, rank, side="right"))
            rank -= int(cumulative[index - 1]) if index else 0
            prefix, prefix_shift, counts = (prefix << bits) | index, shift, None
        return float(np.array([prefix], dtype=np.uint64).view(np.float64)[0])

    top = histogram(None, 0, *levels[0])
    count = int(top.sum())
    if not count:
        return None
    middle = (count - 1) // 2
    if lower or count % 2:
        return at_rank(middle, top)
    return float(np.mean(np.array([at_rank(middle, top), at_rank(middle + 1, top)])))


def _inner(objective, exponents, overwrite: bool, xp):
    inner = objective if overwrite else objective.copy()
    return inner if exponents is None else unscale(inner, exponents, "the inner kernel")


def unscale(values, exponents, what: str):
    """``values[i, j] * 2^-(a_i + b_j)`` in place, a block of rows at a time: N x M values of samples
    multiplied by 2^a_i and 2^b_j (``exponents = (a, b)``), back at the samples' own scale. A value
    beyond float64 there raises a ValueError naming ``what`` and the pair."""
    xp = array_module(values)
    a, b = (xp.asarray(e, dtype=xp.int32) for e in exponents)
    if not (bool(a.any()) or bool(b.any())):
        return values
    n, m = values.shape
    for start, stop in _row_blocks(n, m):
        block = values[start:stop]
        with np.errstate(over="ignore"):  # an overflow raises below
            xp.ldexp(block, -(a[start:stop, None] + b[None, :]), out=block)
        if not bool(xp.isfinite(block).all()):
            row, col = np.unravel_index(int(xp.flatnonzero(~xp.isfinite(block).ravel())[0]), block.shape)
            raise ValueError(f"{what} cannot be represented: the inner product of x[{start + row}] and y[{col}] "
                             f"exceeds float64 (1.8e308); use the scale-invariant kernels 'cosine' or 'rbf', or "
                             f"rescale the samples")
    return values
