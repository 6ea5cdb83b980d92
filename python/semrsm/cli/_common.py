"""What the subcommands of the ``semrsm`` console command share: the error they report in one line,
and the reader of layer files."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["UserError", "read_layers"]


class UserError(Exception):
    """A mistake in the command line or its files: reported in one line, without a traceback."""


def read_layers(path: str) -> dict:
    """Layer name -> array: one layer for .npy (named after the file), one per array, in the file's
    order, for .npz. Unreadable files raise UserError, reported in one line."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise UserError(f"{path} could not be read as .npy or .npz: {exc}") from None
    if isinstance(data, np.ndarray):
        return {os.path.splitext(os.path.basename(path))[0]: data}
    with data:
        try:
            layers = {name: data[name] for name in data.files}
        except ValueError as exc:
            raise UserError(f"{path}: {exc}") from None
    if not layers:
        raise UserError(f"{path} holds no arrays")
    return layers
