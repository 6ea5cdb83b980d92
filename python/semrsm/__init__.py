"""semrsm: semantic representational similarity matrices, batched linear assignment, and CKA.

The engine is compiled C++ (and CUDA where built); this package validates input and dispatches.
"""

from ._core import __version__
from ._backend import backends, cuda_available
from ._checks import UnreliableResultWarning
from .lap import LapResult, linear_sum_assignment, solve
from .rsm import rsm
from .semantic import semantic_rsm
from . import plot, torch
from .cca import canonical_correlations, mean_r2_cca, mean_rho_cca, pwcca, r2_lr, svcca
from .cka import MinibatchCKA, cka, linear_cka, rbf_cka
from .similarity import KindComparison, SimilarityMatrix, compare_kinds, similarity_matrix
from .jobs import open_rsm, run_job

__all__ = ["__version__", "backends", "cuda_available", "LapResult", "linear_sum_assignment", "solve",
           "rsm", "semantic_rsm",
           "cka", "linear_cka", "rbf_cka", "MinibatchCKA", "canonical_correlations", "mean_r2_cca",
           "mean_rho_cca", "svcca", "pwcca", "r2_lr", "similarity_matrix", "SimilarityMatrix",
           "compare_kinds", "KindComparison", "UnreliableResultWarning", "run_job", "open_rsm"]
