"""semrsm: semantic representational similarity matrices, batched linear assignment, and CKA.

The engine is compiled C++ (and CUDA where built); this package validates input and dispatches.
"""

from ._core import __version__
from ._backends import backends, cuda_available
from .lap import LapResult, linear_sum_assignment, solve
from .rsm import rsm
from .semantic import semantic_rsm

__all__ = ["__version__", "backends", "cuda_available", "LapResult", "linear_sum_assignment", "solve",
           "rsm", "semantic_rsm"]
