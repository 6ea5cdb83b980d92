"""The one place that decides where work runs: which array module, which device, whether the CUDA
engine can run here (in the spirit of scikit-learn's ``get_namespace`` and POT's ``get_backend``).

Every public function asks :func:`resolve`: CuPy input runs on the GPU that holds it and returns
CuPy arrays; ``device="cuda"`` moves NumPy input there and brings the results back; ``device="cpu"``
keeps NumPy input on the CPU engine. Nothing else in the package inspects devices.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Optional

import numpy as np

from . import _core

__all__ = ["Backend", "array_module", "backends", "cuda_available", "cupy_module", "is_cupy_array", "resolve",
           "to_numpy"]

DEVICES = (None, "cpu", "cuda")


def is_cupy_array(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def array_module(*arrays):
    """``cupy`` when any argument is a CuPy array, else ``numpy``."""
    if any(is_cupy_array(a) for a in arrays):
        import cupy

        return cupy
    return np


def to_numpy(a):
    """A NumPy view or copy of ``a`` (a CuPy array is copied to the host)."""
    return a.get() if is_cupy_array(a) else np.asarray(a)


def backends() -> dict:
    """Report the engines compiled into this build and whether each can run on this machine.

    Returns
    -------
    dict
        ``{"cpu": {"available": True, "threads": int},
        "cuda": {"compiled": bool, "available": bool, "devices": [str], "runtime_version": int,
        "driver_version": int, "reason": str}}``. ``reason`` says why CUDA cannot run (empty when
        it can).
    """
    report = _core.cuda_report()
    cuda = {
        "compiled": bool(report["compiled"]),
        "available": bool(report["compiled"]) and bool(report["devices"]) and not report["error"],
        "devices": list(report["devices"]),
        "runtime_version": int(report["runtime_version"]),
        "driver_version": int(report["driver_version"]),
        "reason": str(report["error"]),
    }
    return {"cpu": {"available": True, "threads": int(_core.cpu_count())}, "cuda": cuda}


def cuda_available() -> bool:
    """True when this build has the CUDA engine and a usable GPU is present."""
    return backends()["cuda"]["available"]


def cupy_module():
    """CuPy, after checking that this build and this machine can run the CUDA engine."""
    cuda = backends()["cuda"]
    if not cuda["available"]:
        raise RuntimeError(f"the CUDA engine is not available: {cuda['reason']}")
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(f"the CUDA engine needs CuPy (pip install cupy-cuda13x): {exc}") from None
    return cupy


@dataclasses.dataclass(frozen=True)
class Backend:
    """Where a call runs.

    Attributes
    ----------
    xp : module
        ``numpy`` or ``cupy``: the module of every array the call works on.
    gpu : bool
        The work runs on the GPU (``xp`` is CuPy).
    device_id : int or None
        The GPU holding the input (None: CuPy's current device).
    cupy_input : bool
        Some input was a CuPy array: results stay on the GPU; otherwise they come back as NumPy.
    """

    xp: object
    gpu: bool
    device_id: Optional[int] = None
    cupy_input: bool = False

    def on_device(self):
        """A context that makes the input's GPU current (nothing on the CPU)."""
        return self.xp.cuda.Device(self.device_id) if self.gpu else contextlib.nullcontext()

    def output(self, value):
        """``value`` as the caller gets it: GPU results of NumPy input brought to the host (arrays,
        and the arrays inside dicts, tuples, lists and dataclasses)."""
        if not self.gpu or self.cupy_input:
            return value
        if isinstance(value, dict):
            return {k: self.output(v) for k, v in value.items()}
        if isinstance(value, (tuple, list)):
            return type(value)(self.output(v) for v in value)
        if dataclasses.is_dataclass(value):
            fields = {f.name: self.output(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return dataclasses.replace(value, **fields)
        return to_numpy(value) if is_cupy_array(value) else value


#: Where every call on NumPy input without ``device=`` runs; made once, as a single
#: ``linear_sum_assignment`` at n = 49 takes only about 20 us in all.
CPU = Backend(np, False)


def check_device(device) -> None:
    if device not in DEVICES:
        raise ValueError(f"device must be 'cpu', 'cuda' or None (follow the input); got {device!r}")


def resolve(*arrays, device: Optional[str] = None, engine: bool = True) -> Backend:
    """Where a call on ``arrays`` runs.

    Parameters
    ----------
    *arrays
        The call's array arguments (None entries are ignored).
    device : {None, "cpu", "cuda"}
        None follows the input (the GPU when any array is a CuPy array); "cuda" runs on the GPU
        whatever the input; "cpu" on the CPU (CuPy input is then refused by the input checks).
    engine : bool
        The call needs the CUDA engine of this build on the GPU. False: CuPy alone will do when the
        input is already on the GPU (work that is all cuBLAS); NumPy input sent to the GPU with
        ``device="cuda"`` is still checked as for the engine.

    Raises
    ------
    ValueError
        An unknown ``device``, or CuPy inputs on different GPUs.
    RuntimeError
        The GPU is asked for but the CUDA engine (or CuPy) cannot run here; the message says why.
    """
    if device is None and all(type(a) is np.ndarray for a in arrays):
        return CPU
    check_device(device)
    gpu_arrays = [a for a in arrays if is_cupy_array(a)]
    if device == "cpu" or (device is None and not gpu_arrays):
        return CPU
    xp = cupy_module() if engine or not gpu_arrays else array_module(*gpu_arrays)
    devices = {a.device.id for a in gpu_arrays}
    if len(devices) > 1:
        raise ValueError(f"the inputs are on different GPUs ({sorted(devices)}); copy them to one")
    return Backend(xp, True, devices.pop() if devices else None, bool(gpu_arrays))
