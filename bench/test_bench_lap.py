"""pytest-benchmark suite for the LAP engine: ``python -m pytest bench/test_bench_lap.py``.

Each case times semrsm and scipy on the same problem in the same run; compare the rows of one
group (``--benchmark-group-by=param:case``). bench/compare_lap.py adds the peer solvers. The
machine and versions are printed in the header of the run (bench/conftest.py).
"""

import numpy as np
import pytest

import semrsm

from lap_peers import problems

scipy_optimize = pytest.importorskip("scipy.optimize")

CASES = [(kind, n) for kind in ("uniform", "semantic") for n in (49, 196, 784)]


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{n}" for k, n in CASES])
def case(request):
    kind, n = request.param
    return problems(kind, n, 1, seed=n)[0]


@pytest.mark.parametrize("solver", ["scipy", "auto", "jv", "hybrid"])
def test_single(benchmark, case, solver):
    if solver == "scipy":
        result = benchmark(scipy_optimize.linear_sum_assignment, case)
        cols = result[1]
    else:
        cols = benchmark(semrsm.solve, case, method=solver).col
    rows = np.arange(len(case))
    best = scipy_optimize.linear_sum_assignment(case)
    assert case[rows, cols].astype(np.float64).sum() == pytest.approx(
        case[best].astype(np.float64).sum(), rel=1e-6)


@pytest.mark.parametrize("batch_size, n", [(2000, 49), (500, 196)])
@pytest.mark.parametrize("solver", ["scipy loop", "semrsm.solve"])
def test_batch(benchmark, batch_size, n, solver):
    costs = problems("semantic", n, batch_size, seed=batch_size)
    if solver == "scipy loop":
        benchmark.pedantic(lambda: [scipy_optimize.linear_sum_assignment(c) for c in costs], rounds=3)
    else:
        benchmark.pedantic(lambda: semrsm.solve(costs), rounds=3)
