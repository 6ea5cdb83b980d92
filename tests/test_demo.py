"""The demo in a reduced size: crops, table, figure, and the command."""

import numpy as np

from semrsm.cli import main
from semrsm.demo import format_table, overlapping_crops, run_demo


def test_overlapping_crops():
    crops, group = overlapping_crops(images=2, per_image=3, size=16, seed=1)
    assert crops.shape == (6, 3, 16, 16) and crops.dtype == np.float32
    assert list(group) == [0, 0, 0, 1, 1, 1]


def test_run_demo_small(tmp_path):
    result = run_demo(str(tmp_path), images=3, per_image=2, size=24, channels=(8, 16, 32), progress=False)
    assert [name for name, _, _ in result.layers] == ["layer2", "layer3"]
    for name, _, _ in result.layers:
        sem, base = result.semantic[name], result.baseline[name]
        assert sem.shape == (6, 6)
        # Alignment can only raise the inner product, and here also the cosine.
        assert (sem >= base - 1e-9).all()
    same = [row for row in result.means() if row[1] == "semantic"]
    assert all(overlap > unrelated for _, _, overlap, unrelated in same)
    assert "overlapping" in format_table(result)
    assert (tmp_path / "figure.png").stat().st_size > 1000
    with np.load(tmp_path / "rsms.npz") as saved:
        assert "layer2.semantic" in saved.files


def test_demo_command_quick(tmp_path, capsys):
    assert main(["demo", "--quick", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "spatio-semantic" in out and "semantic" in out
    assert (tmp_path / "figure.png").exists()
