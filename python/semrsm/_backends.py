"""What was compiled in, and what can run here."""

from __future__ import annotations

from . import _core

__all__ = ["backends", "cuda_available"]


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
