"""What the subcommands of the ``semrsm`` console command share: the error they report in one line,
the reader of layer files, the check of every output path before any work, and the layout a layer's
shape implies."""

from __future__ import annotations

import os
import sys
import zipfile
import zlib
from typing import Optional

import numpy as np
from tqdm.auto import tqdm

__all__ = ["FIGURE_SUFFIXES", "UserError", "layer_layout", "output_path", "read_layers", "run_layers",
           "refuse_unused"]

#: Figure formats the commands write (matplotlib's, by extension).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".eps", ".ps", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")

_NPY_MAGIC = b"\x93NUMPY"
#: What a damaged or cut .npy/.npz raises while it is read.
_DAMAGED = (OSError, EOFError, zipfile.BadZipFile, zlib.error)
_ZIP_MAGIC = b"PK\x03\x04"


class UserError(Exception):
    """A mistake in the command line or its files: reported in one line, without a traceback."""


def output_path(path: Optional[str], option: str, suffixes) -> Optional[str]:
    """Check, before any work, that ``path`` can be written as given: its extension is one of
    ``suffixes`` (what will be written there, under exactly that name), its folder exists and is
    writable, and it is not a folder. None passes through."""
    if path is None:
        return None
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in suffixes:
        raise UserError(f"{option} {path}: the file is written as {' or '.join(suffixes[:4])}"
                        f"{' ...' if len(suffixes) > 4 else ''}; give a path ending in one of them")
    if os.path.isdir(path):
        raise UserError(f"{option} {path} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UserError(f"{option} {path}: not writable (permissions)")
    return path


def read_layers(path: str) -> dict:
    """Layer name -> array: one layer for .npy (named after the file), one per array, in the file's
    order, for .npz. Unreadable files raise UserError, reported in one line."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    with open(path, "rb") as head:
        magic = head.read(6)
    if not (magic.startswith(_NPY_MAGIC) or magic.startswith(_ZIP_MAGIC)):
        raise UserError(f"{path} is not a NumPy file (.npy or .npz); save arrays with numpy.save or numpy.savez")
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise UserError(f"{path} holds Python objects, not numeric arrays; save arrays of numbers") from None
        raise UserError(f"{path} could not be read as .npy or .npz: {exc}") from None
    except _DAMAGED as exc:
        raise UserError(f"{path} could not be read as .npy or .npz: {exc}") from None
    if isinstance(data, np.ndarray):
        return {os.path.splitext(os.path.basename(path))[0]: data}
    with data:
        try:
            layers = {name: data[name] for name in data.files}
        except ValueError as exc:
            raise UserError(f"{path}: {exc}") from None
        except _DAMAGED as exc:
            raise UserError(f"{path} could not be read as .npy or .npz: {exc}") from None
    if not layers:
        raise UserError(f"{path} holds no arrays")
    return layers


def layer_layout(x, layout: Optional[str]) -> Optional[str]:
    """The layout of layer ``x`` for semantic_rsm: ``--layout`` for the layers of its number of axes,
    read from the shape when not given (4-D NCHW, 3-D NTD); a 2-D (N, D) layer (fully connected) has
    one position, where the semantic RSM is the spatio-semantic one. Other shapes say what is
    accepted and how to choose."""
    accepted = {4: ("NCHW",), 3: ("NTD", "NSC"), 2: (None, "NTD", "NSC")}
    if x.ndim not in accepted:
        raise UserError(f"shape {x.shape}: a layer is (N, C, H, W) (--layout NCHW), (N, T, D) or (N, S, C) "
                        f"(--layout NTD or NSC), or (N, D)")
    if layout is not None and layout not in accepted[x.ndim]:
        raise UserError(f"shape {x.shape} is {x.ndim}-D, not a layer of --layout {layout}: (N, C, H, W) is NCHW, "
                        f"(N, T, D) NTD, (N, S, C) NSC; leave --layout out to choose from each layer's shape")
    return None if x.ndim == 2 else layout


def refuse_unused(args, rules) -> None:
    """Refuse an option that the chosen matcher or kernel would ignore: ``rules`` holds (option, given,
    applies, why) rows."""
    for option, given, applies, why in rules:
        if given and not applies:
            raise UserError(f"{option} {why}")


def run_layers(layers: dict, work, what: str, progress: bool = False) -> dict:
    """``work(name, array)`` for every layer, going on past a layer that fails so that the finished
    layers are kept; with ``progress``, a bar counting layers. Returns the results by layer name;
    the layers that failed are reported on stderr, one line each, or, when every layer failed, raise
    UserError with the first one's error."""
    results, errors = {}, {}
    items = layers.items()
    if progress:
        items = tqdm(items, desc=what, unit="layer", total=len(layers))
    for name, x in items:
        try:
            results[name] = work(name, x)
        except (UserError, ValueError, TypeError, MemoryError) as exc:
            errors[name] = str(exc)
    if errors and not results:
        name, message = next(iter(errors.items()))
        more = f" (and {len(errors) - 1} more layer(s) failed)" if len(errors) > 1 else ""
        raise UserError(f"layer {name!r}: {message}{more}")
    for name, message in errors.items():
        print(f"semrsm {what}: layer {name!r} skipped: {message}", file=sys.stderr)
    return results
