"""``semrsm bench-lap`` end to end on tiny problems, and its one-line errors."""

import pytest

from semrsm.cli import main


def test_bench_lap_checks_every_method_against_scipy(capsys):
    assert main(["bench-lap", "--sizes", "9", "--count", "2"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["uniform"], ["semantic"])]
    assert {(r[0], r[2]) for r in rows} == {(kind, m) for kind in ("uniform", "semantic")
                                            for m in ("scipy", "auto", "jv", "hybrid", "auction", "greedy")}
    for kind, _, method, _, _, excess in rows:
        if method in ("auto", "jv", "hybrid"):
            assert float(excess) == 0.0  # exact: scipy's objective


@pytest.mark.parametrize("argv,message", [
    (["--sizes", "0"], "--sizes 0: sizes are positions of a square feature map"),
    (["--sizes", "49", "50"], "--sizes 50"),
    (["--count", "0"], "--count must be at least 1"),
])
def test_bench_lap_user_errors(capsys, argv, message):
    assert main(["bench-lap", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("semrsm bench-lap: error: ") and message in err and err.count("\n") == 1
