"""The analyses of Wald et al. (NeurIPS 2024) as tools: how far each matcher is from the optimum on
the caller's own features (:func:`matcher_study`), retrieval by an RSM (:func:`retrieval_f1`), and the
agreement of an RSM with a classifier's predictions (:func:`jsd_correlation`); their figures; and the
paper's experiments reproduced from the installed package (:mod:`semrsm.analysis.experiments`).

The audit of a single approximate run lives with the RSM itself: ``semantic_rsm(..., audit=...)``.
"""

from ._table import Table
from .figures import jsd_figure, retrieval_figure, study_figure
from .jsd import JsdCorrelation, as_probabilities, js_divergence, jsd_correlation
from .retrieval import RetrievalScore, label_matrix, retrieval_f1
from .study import hungarian_objectives, matcher_study

__all__ = ["JsdCorrelation", "RetrievalScore", "Table", "as_probabilities", "hungarian_objectives",
           "js_divergence", "jsd_correlation", "jsd_figure", "label_matrix", "matcher_study", "retrieval_f1",
           "retrieval_figure", "study_figure"]
