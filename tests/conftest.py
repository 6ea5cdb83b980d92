import numpy as np
import pytest


def _cuda_usable() -> bool:
    try:
        import cupy  # noqa: F401
        import semrsm
    except Exception:
        return False
    return semrsm.backends()["cuda"]["available"]


def pytest_collection_modifyitems(config, items):
    if _cuda_usable():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU, CuPy and a CUDA-enabled semrsm build")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_report_header(config):
    import semrsm

    return f"semrsm {semrsm.__version__} from {semrsm.__file__}; backends: {semrsm.backends()}"
