"""What every CUDA test module starts with: skip it without a usable GPU or CuPy, and under
compute-sanitizer (SEMRSM_CUPY_NO_POOL=1) one cudaMalloc per array, so every bound is checked."""

import os

import pytest

import semrsm


def cupy_or_skip():
    cuda = semrsm.backends()["cuda"]
    if not cuda["available"]:
        pytest.skip(f"CUDA engine unavailable: {cuda['reason']}", allow_module_level=True)
    cp = pytest.importorskip("cupy")
    if os.environ.get("SEMRSM_CUPY_NO_POOL"):
        cp.cuda.set_allocator(None)
    return cp
