"""The audit of an approximate semantic RSM (python/semrsm/semantic/_audit.py) and pair_objectives,
held to a direct comparison: the exact RSM on the same pairs, and objective / optimum by hand."""

import warnings

import numpy as np
import pytest

import semrsm
from semrsm.semantic import (AuditReport, MatchingQualityWarning, compute, matching_quality, pair_objectives,
                             sample_pairs)
from semrsm.semantic._arrays import numpy_ops
from semrsm.semantic._audit import AuditPlan
from semrsm.semantic._plan import Options


@pytest.fixture(scope="module")
def features():
    """ReLU-like features (N, S, C) with positions of varied norm: the approximations are not exact."""
    rng = np.random.default_rng(7)
    x = np.maximum(rng.standard_normal((14, 36, 8)), 0) * rng.uniform(0.2, 2.0, size=(14, 36, 1))
    return x.astype(np.float32)


def test_matching_quality_by_hand():
    got = matching_quality([0.9, 2.0, 0.0, -2.0, 1.0 + 1e-9, 3.0], [1.0, 4.0, 0.0, -1.0, 1.0, 3.0])
    np.testing.assert_allclose(got, [0.9, 0.5, 1.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("matcher, options", [("greedy", {}), ("batch_optimal", {"window": 8}),
                                              ("topk_greedy", {"topk": 5}), ("auction", {})])
def test_audit_matches_a_direct_comparison(features, matcher, options):
    approx, report = semrsm.semantic_rsm(features, kernel="inner", matcher=matcher, layout="NSC", audit=25,
                                         audit_threshold=0.0, progress=False, **options)
    exact = semrsm.semantic_rsm(features, kernel="inner", matcher="exact", layout="NSC", progress=False)
    assert isinstance(report, AuditReport) and report.matcher == matcher and report.count == 25
    i, j = report.pairs[:, 0], report.pairs[:, 1]
    assert (i < j).all() and len({tuple(p) for p in report.pairs}) == 25
    np.testing.assert_allclose(report.optimum, exact[i, j], rtol=1e-12)
    np.testing.assert_array_equal(report.objective, approx[i, j])
    ratio = np.minimum(approx[i, j] / exact[i, j], 1.0)
    np.testing.assert_allclose(report.quality, ratio, rtol=1e-12)
    assert report.median == pytest.approx(np.median(ratio))
    assert report.p05 == pytest.approx(np.quantile(ratio, 0.05))
    assert report.worst == pytest.approx(ratio.min())
    assert report.worst_pair == tuple(report.pairs[np.argmin(ratio)])
    assert report.seconds >= 0 and "quality median" in str(report)


def test_audit_sizes_seeds_and_cross_rsms(features):
    x, y = features[:9], features[9:]
    quiet = dict(matcher="greedy", layout="NSC", audit_threshold=0.0, progress=False)
    _, report = semrsm.semantic_rsm(x, y, audit=0.5, **quiet)
    assert report.count == round(0.5 * 9 * 5)
    assert (report.pairs[:, 0] < 9).all() and (report.pairs[:, 1] < 5).all()
    _, every = semrsm.semantic_rsm(x, audit=1000, **quiet)
    assert every.count == 9 * 8 // 2  # capped at the pairs there are
    _, again = semrsm.semantic_rsm(x, y, audit=0.5, **quiet)
    _, other = semrsm.semantic_rsm(x, y, audit=0.5, audit_seed=3, **quiet)
    np.testing.assert_array_equal(report.pairs, again.pairs)
    assert not np.array_equal(report.pairs, other.pairs)


def test_audit_comes_last_in_the_result(features):
    rsm, perm, bound, report = semrsm.semantic_rsm(features, matcher="batch_optimal", window=6, layout="NSC",
                                                   return_perm=True, return_bound=True, audit=5, audit_threshold=0,
                                                   progress=False)
    assert rsm.shape == bound.shape == (14, 14) and perm.shape == (14, 14, 36) and report.count == 5
    many, report = semrsm.semantic_rsm(features, kernel=["cosine", "rbf"], matcher="greedy", layout="NSC",
                                       audit=3, audit_threshold=0, progress=False)
    assert set(many) == {"cosine", "rbf"} and report.count == 3


def test_audit_warns_below_the_threshold(features):
    with pytest.warns(MatchingQualityWarning, match="below audit_threshold=1.0"):
        semrsm.semantic_rsm(features, matcher="greedy", layout="NSC", audit=20, audit_threshold=1.0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, report = semrsm.semantic_rsm(features, matcher="exact", layout="NSC", audit=20, audit_threshold=1.0,
                                        progress=False)
    assert report.passed and (report.quality == 1.0).all()


def test_audit_of_a_single_sample_has_no_pairs(features):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, report = semrsm.semantic_rsm(features[:1], matcher="greedy", layout="NSC", audit=10, progress=False)
    assert report.count == 0 and np.isnan(report.median) and report.worst_pair is None and report.passed


def test_audit_off_prepares_nothing(features, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the audit was prepared although it is off")

    monkeypatch.setattr(AuditPlan, "prepare", refuse)
    out = semrsm.semantic_rsm(features, matcher="greedy", layout="NSC", progress=False)
    assert isinstance(out, np.ndarray)


def test_audit_on_the_array_engine_matches_the_cpu_engine(features):
    """The GPU runs the audit through the array steps: the same report on NumPy."""
    settings = dict(kernel="inner", matcher="batch_optimal", window=8, topk=None, layout="NSC", return_perm=False,
                    return_bound=False, sigma=None, threads=None, max_memory=None, progress=False, audit=12,
                    audit_threshold=0.0)
    _, arrays = compute(features, None, Options.check(**settings), numpy_ops())
    _, cpu = semrsm.semantic_rsm(features, kernel="inner", matcher="batch_optimal", window=8, layout="NSC",
                                 audit=12, audit_threshold=0.0, progress=False)
    np.testing.assert_array_equal(arrays.pairs, cpu.pairs)
    np.testing.assert_allclose(arrays.quality, cpu.quality, rtol=1e-5)


@pytest.mark.parametrize("audit, threshold, error", [(0, 0.95, ValueError), (-3, 0.95, ValueError),
                                                     (1.5, 0.95, ValueError), (0.0, 0.95, ValueError),
                                                     (True, 0.95, ValueError), ("10", 0.95, ValueError),
                                                     (10, 1.5, ValueError), (10, "high", TypeError),
                                                     (10, float("nan"), ValueError)])
def test_bad_audit_options(features, audit, threshold, error):
    with pytest.raises(error, match="audit"):
        semrsm.semantic_rsm(features, matcher="greedy", layout="NSC", audit=audit, audit_threshold=threshold)


def test_audit_that_does_not_fit_the_budget_fails_before_the_run(features):
    big = np.repeat(features, 8, axis=1)  # S = 288: the exact block needs more than the windows
    with pytest.raises(ValueError, match="audit's exact solves do not fit"):
        semrsm.semantic_rsm(big, matcher="batch_optimal", window=8, layout="NSC", audit=3, max_memory=500_000,
                            threads=1)


def test_audit_refuses_gpu_blocks_beyond_the_solver_before_the_run(monkeypatch):
    monkeypatch.setattr(semrsm._core, "CUDA_MAX_COLUMNS", 8192, raising=False)  # exported by CUDA builds only

    class Samples:
        shape, symmetric = (3, 3, 8193, 2), True

    class GpuEngine:
        xp = object()  # not NumPy: an array module on the device

        def prepare(self, *args):
            raise AssertionError("the engine was asked to prepare")

    plan = AuditPlan.check(5, 0.9, 0)
    with pytest.raises(ValueError, match="audit on the CPU"):
        plan.prepare(Samples(), None, GpuEngine())


def test_sample_pairs_are_distinct_and_in_range():
    pairs = sample_pairs(30, 30, True, 100, seed=1)
    assert len({tuple(p) for p in pairs}) == 100 and (pairs[:, 0] < pairs[:, 1]).all() and pairs.max() < 30
    grid = sample_pairs(4, 3, False, 100, seed=1)
    assert sorted(map(tuple, grid)) == [(i, j) for i in range(4) for j in range(3)]


@pytest.mark.parametrize("matcher, options", [("exact", {}), ("greedy", {}), ("batch_optimal", {"window": 8}),
                                              ("topk_greedy", {"topk": 4})])
def test_pair_objectives_are_the_rsm_entries(features, matcher, options):
    x, y = features[:8], features[8:]
    pairs = np.array([[0, 5], [7, 0], [3, 3], [2, 4], [0, 5]])
    got = pair_objectives(x, pairs, y, matcher=matcher, layout="NSC", **options)
    full = semrsm.semantic_rsm(x, y, kernel="inner", matcher=matcher, layout="NSC", progress=False, **options)
    np.testing.assert_array_equal(got, full[pairs[:, 0], pairs[:, 1]])
    within = pair_objectives(x, [[1, 2], [6, 3], [4, 4]], matcher=matcher, layout="NSC", **options)
    sym = semrsm.semantic_rsm(x, kernel="inner", matcher=matcher, layout="NSC", progress=False, **options)
    np.testing.assert_array_equal(within, [sym[1, 2], sym[6, 3], sym[4, 4]])


def test_pair_objectives_bad_pairs(features):
    assert pair_objectives(features, np.empty((0, 2), dtype=int), layout="NSC").shape == (0,)
    for pairs in ([[0, 14]], [[-1, 0]], [[0.5, 1]], [0, 1]):
        with pytest.raises(ValueError, match="pairs"):
            pair_objectives(features, pairs, layout="NSC")


def test_audit_and_pair_objectives_at_the_samples_own_scale(features):
    """Samples far from 1 are solved rescaled by powers of two: what the audit reports and what
    pair_objectives returns is at the samples' own scale, exactly."""
    tiny = np.ldexp(features, -100)
    pairs = np.array([[0, 1], [3, 2], [5, 5]])
    np.testing.assert_array_equal(pair_objectives(tiny, pairs, layout="NSC"),
                                  np.ldexp(pair_objectives(features, pairs, layout="NSC"), -200))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MatchingQualityWarning)
        _, small = semrsm.semantic_rsm(tiny, matcher="greedy", layout="NSC", audit=4)
        _, plain = semrsm.semantic_rsm(features, matcher="greedy", layout="NSC", audit=4)
    np.testing.assert_array_equal(small.objective, np.ldexp(plain.objective, -200))
    np.testing.assert_array_equal(small.optimum, np.ldexp(plain.optimum, -200))
    np.testing.assert_array_equal(small.quality, plain.quality)
