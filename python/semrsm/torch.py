"""Layer activations of a PyTorch model, for RSMs and CKA (optional: ``pip install semrsm[torch]``).

PyTorch is imported inside the functions, so ``import semrsm`` never needs it.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
from tqdm.auto import tqdm

__all__ = ["extract", "layer_names"]

_OUTPUTS = ("numpy", "cupy", "torch")


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("semrsm.torch needs PyTorch: pip install torch (or semrsm[torch])") from None
    return torch


def layer_names(model) -> list:
    """Names of every submodule of ``model`` that :func:`extract` accepts, in definition order."""
    return [name for name, _ in model.named_modules() if name]


def _resolve_layers(model, layers):
    """layers -> list of (label, module)."""
    if isinstance(layers, str):
        layers = [layers]
    modules = dict(model.named_modules())
    items = list(layers.items()) if isinstance(layers, dict) else [(None, layer) for layer in layers]
    if not items:
        raise ValueError("layers is empty: name at least one submodule (see semrsm.torch.layer_names)")
    by_module = {id(m): name for name, m in modules.items()}
    resolved = []
    for label, layer in items:
        if isinstance(layer, str):
            if layer not in modules or not layer:
                known = ", ".join(repr(n) for n in layer_names(model)[:12])
                raise ValueError(f"model has no submodule {layer!r}; its submodules include {known}"
                                 f"{' ...' if len(modules) > 13 else ''}")
            module, name = modules[layer], layer
        elif id(layer) in by_module:
            module, name = layer, by_module[id(layer)]
        else:
            raise TypeError(f"each layer must be a submodule name (str) or a submodule of the model; "
                            f"got {type(layer).__name__}")
        resolved.append((str(label) if label is not None else name, module))
    labels = [label for label, _ in resolved]
    if len(set(labels)) != len(labels):
        raise ValueError(f"layers are named more than once: {labels}")
    return resolved


def _batches(inputs, batch_size: int, torch):
    """Yield (batch, size): slices of a tensor/array, or the items of an iterable (DataLoader)."""
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(inputs)
    if isinstance(inputs, torch.Tensor):
        if inputs.ndim == 0 or inputs.shape[0] == 0:
            raise ValueError(f"inputs must have a non-empty sample axis; got shape {tuple(inputs.shape)}")
        for start in range(0, inputs.shape[0], batch_size):
            yield inputs[start:start + batch_size]
        return
    if not hasattr(inputs, "__iter__"):
        raise TypeError(f"inputs must be a tensor, a NumPy array or an iterable of batches (a DataLoader); "
                        f"got {type(inputs).__name__}")
    for item in inputs:
        # DataLoaders of (input, target) pairs: the input is the first element
        yield item[0] if isinstance(item, (list, tuple)) else item


def _to_output(t, output: str):
    if output == "torch":
        return t.detach()
    if output == "cupy":
        import cupy

        return cupy.from_dlpack(t.detach().contiguous())
    return t.detach().cpu().numpy()


def extract(model, inputs, layers: Union[str, Sequence, dict], batch_size: int = 128, *,
            device=None, output: str = "numpy", progress: bool = True, eval_mode: bool = True) -> dict:
    """Run ``model`` over ``inputs`` in batches and collect the outputs of ``layers``.

    Forward hooks record each named submodule's output; everything runs under ``torch.no_grad()``.

    Parameters
    ----------
    model : torch.nn.Module
    inputs : torch.Tensor, numpy.ndarray or iterable of batches
        A tensor or array (N, ...) is cut into batches of ``batch_size``; an iterable (e.g. a
        DataLoader) is used as it batches, taking the first element of (input, target) pairs.
    layers : str, sequence or dict
        Submodule names as in ``model.named_modules()`` (e.g. ``"layer3.1.conv2"``), or the
        submodules themselves; a dict maps result labels to names or modules.
    batch_size : int
        Samples per forward pass when ``inputs`` is a tensor or array.
    device : torch.device or str, optional
        Where to run; default the device of the model's first parameter (CPU if it has none).
        Each batch is moved there.
    output : {"numpy", "cupy", "torch"}
        Array type of the result. ``"cupy"`` keeps CUDA activations on the GPU (DLPack, no copy
        through the host); ``"torch"`` returns detached tensors on ``device``.
    progress : bool
        A tqdm progress bar over the batches.
    eval_mode : bool
        Run the model in eval mode (dropout off, batch norm with running statistics) and
        restore its training mode afterwards.

    Returns
    -------
    dict of label -> array
        Each layer's output for all N samples, (N, ...), in the order of ``layers``, dtype as the
        model computes it. A submodule returning a tuple contributes its first element.

    Raises
    ------
    ImportError
        PyTorch (or CuPy, for ``output="cupy"``) is not installed.
    ValueError
        An unknown submodule name (the message lists some), an empty input, a layer that never ran.
    TypeError
        A layer neither a name nor a submodule, or inputs of an unsupported type.

    Examples
    --------
    >>> feats = semrsm.torch.extract(resnet, images, ["layer1", "layer2", "layer3", "layer4"])
    >>> sim = semrsm.similarity_matrix(feats, measure="linear_cka")  # doctest: +SKIP
    """
    torch = _torch()
    if output not in _OUTPUTS:
        raise ValueError(f"unknown output {output!r}; expected one of {', '.join(map(repr, _OUTPUTS))}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    resolved = _resolve_layers(model, layers)
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)
    if output == "cupy" and device.type != "cuda":
        raise ValueError("output='cupy' needs the model on a CUDA device (device='cuda')")

    collected = {label: [] for label, _ in resolved}
    current = {}

    def make_hook(label):
        def hook(module, args, out):
            if isinstance(out, (tuple, list)):
                out = out[0]
            current[label] = out.detach()
        return hook

    handles = [module.register_forward_hook(make_hook(label)) for label, module in resolved]
    was_training = model.training
    total = None
    if hasattr(inputs, "shape") and len(inputs.shape) > 0:
        total = -(-int(inputs.shape[0]) // int(batch_size))
    try:
        if eval_mode:
            model.eval()
        batches = _batches(inputs, int(batch_size), torch)
        if progress:
            batches = tqdm(batches, total=total, desc="extract", unit="batch")
        with torch.no_grad():
            for batch in batches:
                if isinstance(batch, np.ndarray):
                    batch = torch.from_numpy(batch)
                current.clear()
                model(batch.to(device))
                for label, _ in resolved:
                    if label not in current:
                        raise ValueError(f"layer {label!r} did not run in the forward pass of the model")
                    collected[label].append(_to_output(current[label], output))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    if not any(collected.values()):
        raise ValueError("inputs held no batch")
    return {label: _concatenate(parts, output, torch) for label, parts in collected.items()}


def _concatenate(parts, output: str, torch):
    if output == "torch":
        return torch.cat(parts)
    if output == "cupy":
        import cupy

        return cupy.concatenate(parts)
    return np.concatenate(parts)
