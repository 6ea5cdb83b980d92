"""scipy's own tests of linear_sum_assignment, run against semrsm's drop-in.

The test functions of scipy/optimize/tests/test_linear_assignment.py (shipped with scipy's wheels)
are collected here, and the name they call, their module's ``linear_sum_assignment``, is replaced
by semrsm's for each of them: their inputs, expected results and error messages apply unchanged.
"""

import functools

import pytest

import semrsm

suite = pytest.importorskip("scipy.optimize.tests.test_linear_assignment",
                            reason="this scipy installation does not ship its tests")


def _collected(function):
    """``function`` as a test of this module, with its marks; a parametrization over an iterator
    (scipy passes ``itertools.product``) is made a list, which pytest can collect more than once."""

    @functools.wraps(function)
    def test(*args, **kwargs):
        return function(*args, **kwargs)

    test.pytestmark = []
    for mark in getattr(function, "pytestmark", []):
        if mark.name == "parametrize":
            names, values = mark.args
            mark = pytest.mark.parametrize(names, list(values), **mark.kwargs).mark
        test.pytestmark.append(mark)
    return test


SCIPY_TESTS = {name: f for name, f in vars(suite).items() if name.startswith("test_") and callable(f)}
globals().update({name: _collected(f) for name, f in SCIPY_TESTS.items()})


@pytest.fixture(autouse=True)
def semrsm_in_place_of_scipy(monkeypatch):
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return semrsm.linear_sum_assignment(*args, **kwargs)

    monkeypatch.setattr(suite, "linear_sum_assignment", counted)
    yield
    assert calls, "the scipy test did not call linear_sum_assignment: semrsm's was not tested"


def test_the_suite_was_found_and_calls_semrsm():
    rows, cols = suite.linear_sum_assignment([[1.0, 0.0], [0.0, 1.0]], method="jv")  # scipy has no method=
    assert list(cols) == [1, 0]
    assert len(SCIPY_TESTS) >= 10
    assert {"test_linear_sum_assignment_input_shape", "test_linear_sum_assignment_input_string",
            "test_linear_sum_assignment_small_inputs"} <= set(SCIPY_TESTS)
