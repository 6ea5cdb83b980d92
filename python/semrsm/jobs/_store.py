"""The store of a job: a Zarr v3 group chunked by tile.

Arrays: ``objective`` (N x M float64, one chunk per tile, the number per pair at the scale the engine
held the samples), ``bound`` (the same, when asked for), ``sq_norms_x``/``sq_norms_y`` and
``exp_x``/``exp_y`` (the samples' squared norms and powers of two, ``semrsm.semantic._grid.Grid``),
and per tile ``rounding`` (the relative rounding of its distances) and ``done``. ``done[r, c]`` is a
checksum of the tile's values, written only once they are: a tile without it, or whose values no
longer match it, is missing and computed again. Attributes say what the store is of: the inputs'
fingerprints, the options that change the objectives, the tile size, the semrsm version and the
format's; a job with anything else is refused, never mixed in.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Optional

import numpy as np

from .._core import __version__
from ._tiles import TileGrid

__all__ = ["FORMAT", "FORMAT_VERSION", "Store", "checksum", "identity_of"]

#: What the attributes of a semrsm store say they are, and the version of their layout.
FORMAT = "semrsm job store"
FORMAT_VERSION = 1
#: The attributes a job must agree on with an existing store to resume it.
_IDENTITY = ("x", "y", "options", "tile", "semrsm_version", "format_version")


def checksum(*blocks) -> int:
    """A non-zero 63-bit BLAKE2b checksum of the arrays' bytes (0 means "not done")."""
    digest = hashlib.blake2b(digest_size=8)
    for block in blocks:
        digest.update(np.ascontiguousarray(block).data)
    return int.from_bytes(digest.digest(), "little") >> 1 or 1


def _zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError('large jobs need Zarr and Dask: pip install "semrsm[distributed]"') from None
    return zarr


def _not_ours(path: str, why: str) -> ValueError:
    return ValueError(f"{path} is not a semrsm job store ({why}); give a new path or a store written by "
                      f"semrsm.run_job")


def _check_writable(path: str) -> None:
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot create the store {path}: the folder {folder} does not exist")
    try:  # a real write: permissions, read-only mounts and root's exemptions all answer the same
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".semrsm-probe-")
    except OSError as exc:
        raise PermissionError(f"cannot write the store {path}: {folder} is not writable ({exc.strerror})") from None
    probe.close()


class Store:
    """An open job store (see the module); ``attrs`` are its identity and shape."""

    def __init__(self, path: str, group):
        self.path, self.group = path, group
        self.attrs = dict(group.attrs.asdict())
        n, m = self.attrs["shape"][:2]
        self.grid = TileGrid(n, m, self.attrs["tile"], self.attrs["y"] is None)

    @classmethod
    def open(cls, path, writable: bool = False) -> "Store":
        """The store at ``path``; a ValueError when the folder is not one."""
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"{path}: no such store")
        if writable:
            _check_writable(path)
        zarr = _zarr()
        if not os.path.isfile(os.path.join(path, "zarr.json")):
            raise _not_ours(path, "no zarr.json")
        try:
            group = zarr.open_group(path, mode="r+" if writable else "r")
        except Exception as exc:
            raise _not_ours(path, f"not a Zarr group: {exc}") from None
        if group.attrs.get("format") != FORMAT:
            raise _not_ours(path, "a Zarr group without semrsm's attributes")
        return cls(path, group)

    @classmethod
    def create(cls, path, identity: dict, shape, norms, bound: bool) -> "Store":
        """A new store for a job of ``identity`` (the attributes of :data:`_IDENTITY`), ``shape``
        (N, M, S, C) and ``norms`` (sq_norms_x, sq_norms_y, exp_x, exp_y, as the engine holds them)."""
        path = os.fspath(path)
        _check_writable(path)
        if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
            raise _not_ours(path, "it exists and is not empty")
        zarr = _zarr()
        group = zarr.open_group(path, mode="w-")
        n, m = shape[:2]
        tile = identity["tile"]
        grid = TileGrid(n, m, tile, identity["y"] is None)
        results = ["objective"] + (["bound"] if bound else [])
        for name in results:
            group.create_array(name, shape=(n, m), chunks=(min(tile, n), min(tile, m)), dtype="float64",
                               fill_value=0.0)
        for name, values in zip(("sq_norms_x", "sq_norms_y", "exp_x", "exp_y"), norms):
            group.create_array(name, shape=values.shape, dtype=values.dtype, fill_value=0)[...] = values
        group.create_array("rounding", shape=grid.shape, chunks=(1, 1), dtype="float64", fill_value=0.0)
        group.create_array("done", shape=grid.shape, chunks=(1, 1), dtype="uint64", fill_value=0)
        # the attributes last: a folder without them is not (yet) a store, and is created again
        group.attrs.update(dict(identity, format=FORMAT, shape=list(shape), results=results))
        return cls(path, group)

    def differences(self, identity: dict) -> list:
        """What of ``identity`` differs from this store's, as readable lines (none: the same job)."""
        lines = []
        for key in _IDENTITY:
            ours, theirs = self.attrs.get(key), identity.get(key)
            if ours != theirs:
                lines.append(f"{key}: the store has {ours!r}, this job {theirs!r}")
        return lines

    @property
    def options(self) -> dict:
        return dict(self.attrs["options"])

    def write_tile(self, r: int, c: int, objective, bound, rounding: float) -> None:
        """The tile's values, then its rounding, then (last) its done mark."""
        rows, cols = self.grid.rows(r), self.grid.cols(c)
        self.group["objective"][rows, cols] = objective
        blocks = [objective]
        if bound is not None:
            self.group["bound"][rows, cols] = bound
            blocks.append(bound)
        self.group["rounding"][r, c] = rounding
        self.group["done"][r, c] = checksum(*blocks)

    def done_marks(self) -> np.ndarray:
        """The done mark of every tile (0: not done). A mark that cannot be read (a cut or damaged
        chunk) counts as not done."""
        done = self.group["done"]
        try:
            return np.asarray(done[...], dtype=np.uint64)
        except Exception:
            marks = np.zeros(done.shape, dtype=np.uint64)
            for r, c in self.grid.tiles():
                try:
                    marks[r, c] = done[r, c]
                except Exception:
                    pass
            return marks

    def bands(self, names=None):
        """(r, {name: values of tile row r}) for every row of tiles, each read in one call (the
        columns from the diagonal on when symmetric); a band that cannot be read is None."""
        names = self.attrs["results"] if names is None else names
        for r in range(self.grid.shape[0]):
            rows = self.grid.rows(r)
            start = self.grid.cols(r).start if self.grid.symmetric else 0
            try:
                yield r, {name: self.group[name][rows, start:] for name in names}
            except Exception:
                yield r, None

    def tile_of_band(self, band: Optional[dict], r: int, c: int) -> Optional[dict]:
        """Tile (r, c)'s values out of its row's band (:meth:`bands`), or read alone where the band
        could not be (a damaged chunk in it); None where the tile cannot be read either."""
        cols = self.grid.cols(c)
        if band is None:
            try:
                return {name: self.group[name][self.grid.rows(r), cols] for name in self.attrs["results"]}
            except Exception:
                return None
        start = self.grid.cols(r).start if self.grid.symmetric else 0
        return {name: values[:, cols.start - start:cols.stop - start] for name, values in band.items()}

    def intact(self, band: Optional[dict], r: int, c: int, mark: int) -> Optional[dict]:
        """Tile (r, c)'s values when it has a done mark that they match, else None."""
        if not mark:
            return None
        tile = self.tile_of_band(band, r, c)
        return tile if tile is not None and checksum(*tile.values()) == int(mark) else None

    def missing_tiles(self, verify: bool = False) -> list:
        """Tiles without a done mark; with ``verify`` also those whose values do not match it."""
        marks = self.done_marks()
        if not verify:
            return [(r, c) for r, c in self.grid.tiles() if not marks[r, c]]
        rows, cols = self.grid.shape
        missing = []
        for r, band in self.bands():
            missing += [(r, c) for c in range(r if self.grid.symmetric else 0, cols)
                        if self.intact(band, r, c, marks[r, c]) is None]
        return missing


def identity_of(x_print: dict, y_print, options: dict, tile: int) -> dict:
    """The attributes that make two jobs the same job."""
    return {"x": x_print, "y": y_print, "options": options, "tile": tile, "semrsm_version": __version__,
            "format_version": FORMAT_VERSION}
