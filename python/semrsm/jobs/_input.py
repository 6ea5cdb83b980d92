"""The inputs of a job, read a block of rows at a time: NumPy arrays, .npy files (memory-mapped), .npz
members (memory-mapped where stored uncompressed, as ``numpy.savez`` does) and Zarr arrays (their
chunks read as the rows need them). A tile reads only its rows, so the input may exceed memory.

An input travels to Dask workers as the path it was read from, not as its data, and is opened there
again."""

from __future__ import annotations

import hashlib
import os
import zipfile

import numpy as np

__all__ = ["Features", "open_features"]

#: Bytes of rows read at a time to hash or to take norms of (8 MiB).
BLOCK_BYTES = 8 << 20


def _npz_member(path: str, key):
    """Member ``key`` of an .npz (the only one when None): memory-mapped if stored uncompressed."""
    with zipfile.ZipFile(path) as archive:
        names = [name[:-4] for name in archive.namelist() if name.endswith(".npy")]
        if key is None:
            if len(names) != 1:
                raise ValueError(f"{path} holds {len(names)} arrays ({', '.join(names[:5])}); name one as "
                                 f"'{path}:NAME'")
            key = names[0]
        if key not in names:
            raise ValueError(f"{path} has no array {key!r}; it holds {', '.join(names[:10])}")
        info = archive.getinfo(key + ".npy")
        if info.compress_type == zipfile.ZIP_STORED:
            with open(path, "rb") as raw:
                raw.seek(info.header_offset)
                local = raw.read(30)
                # the member's data follows its local header: 30 bytes, its name and an extra field
                start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + \
                    int.from_bytes(local[28:30], "little")
                raw.seek(start)
                version = np.lib.format.read_magic(raw)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(raw)
                offset = raw.tell()
            if not fortran and not dtype.hasobject:
                return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
        with archive.open(key + ".npy") as member:
            return np.lib.format.read_array(member)


def _open_path(path: str):
    """The array at ``path``: .npy (memory-mapped), PATH.npz or PATH.npz:NAME, or a Zarr array."""
    base, _, key = path.partition(".npz:")
    if key or path.endswith(".npz"):
        npz = base + ".npz" if key else path
        if not os.path.isfile(npz):
            raise ValueError(f"{npz}: no such file")
        return _npz_member(npz, key or None)
    if os.path.isdir(path):
        import zarr

        try:
            return zarr.open_array(path, mode="r")
        except Exception as exc:
            raise ValueError(f"{path} is a folder but not a Zarr array: {exc}") from None
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path} is not an .npy file, an .npz file or a Zarr array: {exc}") from None


class Features:
    """One input of a job: its shape and dtype, and its rows ``lo:hi`` as a NumPy array. Pickled (to
    a Dask worker) as its path when it was read from one, and opened there again."""

    def __init__(self, source, name: str):
        self.name = name
        self.path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        self._array = _open_path(self.path) if self.path is not None else source
        if not hasattr(self._array, "shape") or not hasattr(self._array, "dtype"):
            self._array = np.asarray(self._array)
        self.shape = tuple(int(k) for k in self._array.shape)
        self.dtype = np.dtype(self._array.dtype)
        if len(self.shape) < 2 or 0 in self.shape:
            raise ValueError(f"{name} must hold samples along its first axis, (N, ...) with N > 0; got shape "
                             f"{self.shape}")

    def __getstate__(self):
        state = dict(self.__dict__)
        if self.path is not None:
            state["_array"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._array is None:
            self._array = _open_path(self.path)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Samples lo..hi, read from the source (only those)."""
        return np.asarray(self._array[lo:hi])

    def blocks(self):
        """(lo, hi) row blocks of about :data:`BLOCK_BYTES` each."""
        per_row = max(1, self.dtype.itemsize * int(np.prod(self.shape[1:])))
        step = max(1, BLOCK_BYTES // per_row)
        return ((lo, min(len(self), lo + step)) for lo in range(0, len(self), step))

    def fingerprint(self) -> dict:
        """Shape, dtype and a BLAKE2b hash of the values in C order, read a block of rows at a time."""
        digest = hashlib.blake2b(digest_size=16)
        for lo, hi in self.blocks():
            digest.update(np.ascontiguousarray(self.rows(lo, hi)).data)
        return {"shape": list(self.shape), "dtype": self.dtype.str, "blake2b": digest.hexdigest()}


def open_features(source, name: str) -> Features:
    """``source`` as a :class:`Features`; an input already opened passes through."""
    return source if isinstance(source, Features) else Features(source, name)
