"""The demo in a reduced size: crops, scores, the printed conclusion, the figure and the command."""

import itertools
import re

import numpy as np
import pytest

from semrsm.cli import main
from semrsm.demo import DemoResult, conclusion, format_table, overlapping_crops, run_demo


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
    semantic = [s for s in result.scores() if s.kind == "semantic"]
    assert all(s.overlapping > s.unrelated for s in semantic)
    assert "overlapping" in format_table(result)
    assert (tmp_path / "figure.png").stat().st_size > 1000
    with np.load(tmp_path / "rsms.npz") as saved:
        assert "layer2.semantic" in saved.files


def synthetic(baseline, semantic, group=(0, 0, 0, 1, 1, 1)):
    """A DemoResult of one layer per pair of matrices, with placeholder crops."""
    group = np.array(group)
    result = DemoResult(group=group, crops=np.zeros((len(group), 3, 4, 4), np.float32), photographs=("a", "b"))
    for k, (b, s) in enumerate(zip(baseline, semantic)):
        name = f"layer{k + 2}"
        result.layers.append((name, 4, 8))
        result.baseline[name], result.semantic[name] = np.asarray(b, float), np.asarray(s, float)
    return result


def rsm_from(values, rng, noise=0.02, group=(0, 0, 0, 1, 1, 1)):
    """A symmetric RSM with unit diagonal whose overlapping pairs take values[0] and unrelated ones
    values[1], each plus uniform noise of half-width ``noise``."""
    group = np.array(group)
    same = group[:, None] == group[None, :]
    jitter = rng.uniform(-noise, noise, size=same.shape)
    m = np.where(same, values[0], values[1]) + (jitter + jitter.T) / 2
    np.fill_diagonal(m, 1.0)
    return m


def test_scores_follow_their_definitions(rng):
    group = np.array([0, 0, 0, 1, 1, 1, 1])
    m = rng.uniform(size=(7, 7))
    m = (m + m.T) / 2
    np.fill_diagonal(m, 1.0)
    score = synthetic([m], [m], group).scores()[0]
    pairs = list(itertools.combinations(range(7), 2))
    overlapping = [m[i, j] for i, j in pairs if group[i] == group[j]]
    unrelated = [m[i, j] for i, j in pairs if group[i] != group[j]]
    assert score.overlapping == pytest.approx(np.mean(overlapping))
    assert score.gap == pytest.approx(np.mean(overlapping) - np.mean(unrelated))
    ordered = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a in overlapping for b in unrelated])
    assert score.ordered == pytest.approx(ordered)
    nearest = np.mean([group[max((j for j in range(7) if j != i), key=lambda j: m[i, j])] == group[i]
                       for i in range(7)])
    assert score.nearest == pytest.approx(nearest)


def test_conclusion_follows_the_numbers(rng):
    apart, close = (0.95, 0.6), (0.98, 0.9)  # both ordered perfectly

    def mixed():  # a narrow gap, poorly ordered
        return rsm_from((0.8, 0.79), rng, noise=0.1)

    noisy = rsm_from((0.6, 0.3), rng, noise=0.6)  # a wide gap, poorly ordered
    # better ordered, and a wider gap, at every layer
    text = conclusion(synthetic([mixed()] * 2, [rsm_from(apart, rng)] * 2))
    assert "gap is wider at every layer" in text and "ordered better at every layer" in text
    assert "keeps shifted views of the same photograph similar" in text
    # better ordered with a narrower gap: what semantic RSMs of overlapping crops often show
    text = conclusion(synthetic([noisy], [rsm_from(close, rng)]))
    assert "gap is narrower at every layer" in text and "ordered better at every layer" in text
    assert "narrows the mean gap at layer2" in text and "more often there" in text
    # both ordered perfectly, the semantic gap narrower: not better
    text = conclusion(synthetic([rsm_from(apart, rng)], [rsm_from(close, rng)]))
    assert "ordered equally well at every layer" in text and "does not tell" in text
    # better at one layer, worse at the other
    text = conclusion(synthetic([mixed(), rsm_from(apart, rng)],
                                [rsm_from(apart, rng), mixed()]))
    assert "ordered better at layer2, worse at layer3" in text and "better at layer2 only" in text
    assert "keeps" not in text


def test_demo_command_quick_says_what_its_table_shows(tmp_path, capsys):
    assert main(["demo", "--quick", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "figure.png").exists()
    rows = re.findall(r"^(layer\d+)\s+\d+ x \d+\s+(spatio-semantic|semantic)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                      r"\s+([\d.]+)\s+([\d.]+)$", out, flags=re.M)
    table = {(layer, kind): [float(v) for v in values] for layer, kind, *values in rows}
    layers = sorted({layer for layer, _ in table})
    assert len(table) == 2 * len(layers) >= 4
    for column, word in ((2, "gap is"), (3, "pairs are ordered")):
        signs = {np.sign(table[l, "semantic"][column] - table[l, "spatio-semantic"][column]) for l in layers}
        said = re.search(word + r" (\w+)", out).group(1)
        if signs == {1}:
            assert said in ("wider", "better")
        elif signs == {-1}:
            assert said in ("narrower", "worse")
    # the verdict: better where pairs are ordered better, or equally well with a wider gap
    better = [l for l in layers if (table[l, "semantic"][3], table[l, "semantic"][2])
              > (table[l, "spatio-semantic"][3], table[l, "spatio-semantic"][2])]
    if not better:
        assert "does not tell" in out
    elif len(better) < len(layers):
        assert f"better at {' and '.join(better)} only" in out and "keeps" not in out
    else:
        assert "keeps shifted views" in out or "more often there" in out
