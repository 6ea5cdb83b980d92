"""Layer-by-layer similarity matrices, the two-networks sanity check, semantic vs spatio-semantic."""

import numpy as np
import pytest

import semrsm
from semrsm import similarity
from semrsm.similarity import MEASURES

from layer_identification import digits_split, identification_accuracy, train_tanh_mlp  # bench/, see pyproject


def network_layers(n=120, seed=0, widths=(6, 9, 12)):
    """Layers of a random tanh network: each depends on the previous one."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    layers = {}
    for k, w in enumerate(widths):
        x = np.tanh(x @ rng.normal(size=(x.shape[1], w)) / np.sqrt(x.shape[1]))
        layers[f"layer{k}"] = x
    return layers


PAIRWISE = {
    "linear_cka": semrsm.linear_cka, "rbf_cka": semrsm.rbf_cka, "mean_r2_cca": semrsm.mean_r2_cca,
    "mean_rho_cca": semrsm.mean_rho_cca, "svcca": semrsm.svcca, "pwcca": semrsm.pwcca, "r2_lr": semrsm.r2_lr,
}


@pytest.mark.parametrize("measure", list(PAIRWISE))
def test_matrix_equals_pairwise_calls(measure):
    a = network_layers(seed=0)
    b = list(network_layers(seed=1).values())
    sim = semrsm.similarity_matrix(a, b, measure)
    assert sim.values.shape == (3, 3)
    assert sim.labels_a == ("layer0", "layer1", "layer2") and sim.labels_b == ("0", "1", "2")
    assert sim.measure == measure
    for i, x in enumerate(a.values()):
        for j, y in enumerate(b):
            assert sim.values[i, j] == pytest.approx(PAIRWISE[measure](x, y), abs=1e-12)


@pytest.mark.parametrize("measure", list(PAIRWISE))
def test_against_itself(measure):
    a = network_layers()
    sim = semrsm.similarity_matrix(a, measure=measure)
    assert np.allclose(np.diag(sim.values), 1.0)
    if MEASURES[measure].symmetric:
        assert np.array_equal(sim.values, sim.values.T)
    for i, x in enumerate(a.values()):
        for j, y in enumerate(a.values()):
            assert sim.values[i, j] == pytest.approx(PAIRWISE[measure](x, y), abs=1e-12)


def test_options_reach_the_measure():
    a, b = network_layers(seed=0), network_layers(seed=1)
    x, y = a["layer1"], b["layer2"]
    assert semrsm.similarity_matrix(a, b, "linear_cka", debiased=True).values[1, 2] == pytest.approx(
        semrsm.linear_cka(x, y, debiased=True), abs=1e-12)
    assert semrsm.similarity_matrix(a, b, "rbf_cka", threshold=0.3).values[1, 2] == pytest.approx(
        semrsm.rbf_cka(x, y, threshold=0.3), abs=1e-12)
    assert semrsm.similarity_matrix(a, b, "svcca", keep=3).values[1, 2] == pytest.approx(
        semrsm.svcca(x, y, keep=3), abs=1e-12)


def test_precomputed_rsms_and_callables():
    a, b = network_layers(seed=0), network_layers(seed=1)
    rsm_a = [x @ x.T for x in a.values()]
    rsm_b = {k: y @ y.T for k, y in b.items()}
    by_rsm = semrsm.similarity_matrix(rsm_a, rsm_b, "cka", debiased=True)
    by_features = semrsm.similarity_matrix(a, b, "linear_cka", debiased=True)
    assert np.allclose(by_rsm.values, by_features.values, atol=1e-12)
    custom = semrsm.similarity_matrix(a, b, lambda x, y: float(x.shape[1] * 100 + y.shape[1]))
    assert custom.values[2, 0] == 1206 and custom.measure == "<lambda>"


def test_result_helpers():
    a = network_layers(seed=0)
    sim = semrsm.similarity_matrix(a, a)
    assert list(sim.best_match()) == [0, 1, 2]
    assert np.asarray(sim).shape == (3, 3)
    table = sim.table(digits=2).splitlines()
    assert table[0].split() == ["layer0", "layer1", "layer2"]
    assert table[1].split()[:2] == ["layer0", "1.00"]


def test_progress_bar(capsys):
    a = network_layers()
    semrsm.similarity_matrix(a, measure="linear_cka", progress=True)
    assert "linear_cka" in capsys.readouterr().err


def test_errors_name_the_layer():
    a, b = network_layers(), network_layers(seed=1)
    with pytest.raises(ValueError, match="unknown measure 'cca'"):
        semrsm.similarity_matrix(a, b, "cca")
    with pytest.raises(TypeError, match="no option 'keep'.*debiased, method"):
        semrsm.similarity_matrix(a, b, "linear_cka", keep=0.9)
    b["layer1"] = b["layer1"][:-1]
    with pytest.raises(ValueError, match="layer 'layer1' of B has N = 119 .* 'layer0' of A has N = 120"):
        semrsm.similarity_matrix(a, b)
    a["layer2"] = np.ones_like(a["layer2"])
    with pytest.raises(ValueError, match="layer 'layer2' of A is constant"):
        semrsm.similarity_matrix(a)
    with pytest.raises(ValueError, match="layer '0' of A must be a square"):
        semrsm.similarity_matrix([np.ones((4, 5))], measure="cka")
    with pytest.raises(TypeError, match="dict .* or a list"):
        semrsm.similarity_matrix(np.ones((3, 4)))
    with pytest.raises(ValueError, match="holds no layers"):
        semrsm.similarity_matrix([])
    wide = {"w": np.random.default_rng(0).normal(size=(20, 15))}
    with pytest.raises(ValueError, match="layer 'w' of A vs layer 'w' of B: CCA needs fewer"):
        semrsm.similarity_matrix(wide, measure="mean_r2_cca")


# ---------------------------------------------------------------------------------------------
# The sanity check of Kornblith et al. (section 6.1): networks trained from different random
# initialisations; does the most similar layer of the other network sit at the same depth? The
# trainer and the accuracy live in bench/layer_identification.py, which bench/bench_cka.py runs at
# full size.


def test_linear_cka_finds_the_corresponding_layer_of_another_network():
    x_train, y_train, x_test = digits_split()
    reps = [train_tanh_mlp(x_train, y_train, [128] * 5, seed=seed)(x_test) for seed in range(3)]
    accuracy = {m: identification_accuracy(reps, m) for m in ("linear_cka", "mean_r2_cca", "svcca")}
    accuracy["rbf_cka"] = identification_accuracy(reps, "rbf_cka", threshold=0.4)
    print("layer identification accuracy:", accuracy)  # shown with -s; the full table is in bench/
    assert accuracy["linear_cka"] >= 0.8
    assert accuracy["rbf_cka"] >= 0.8
    assert accuracy["linear_cka"] > max(accuracy["mean_r2_cca"], accuracy["svcca"])


# ---------------------------------------------------------------------------------------------
# Semantic vs spatio-semantic RSMs


def fake_rsms(monkeypatch):
    """Stand-ins for the semantic_rsm / rsm that compare_kinds calls, recording their calls."""
    calls = []

    def semantic_rsm(x, y=None, *, kernel="cosine", matcher="jv", layout="NCHW", **options):
        calls.append(("semantic", kernel, matcher, layout, options))
        f = np.sort(np.asarray(x).reshape(len(x), x.shape[1], -1), axis=2).reshape(len(x), -1)
        return f @ f.T

    def rsm(x, y=None, kernel="cosine", *, sigma=None):
        calls.append(("rsm", kernel, sigma))
        f = np.asarray(x).reshape(len(x), -1)
        return f @ f.T

    monkeypatch.setattr(similarity, "semantic_rsm", semantic_rsm)
    monkeypatch.setattr(similarity, "rsm", rsm)
    return calls


def conv_layers(seed=0):
    rng = np.random.default_rng(seed)
    return {"conv1": rng.normal(size=(16, 3, 4, 4)), "conv2": rng.normal(size=(16, 5, 2, 2))}


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_compare_kinds_plumbing(monkeypatch):
    calls = fake_rsms(monkeypatch)
    layers = conv_layers()
    result = semrsm.compare_kinds(layers, kernel="inner", matcher="greedy", debiased=True, return_rsms=True,
                                  max_memory=10**8)
    assert result.labels == ("conv1", "conv2") and result.values.shape == (2,)
    assert calls[0] == ("semantic", "inner", "greedy", None, {"max_memory": 10**8})  # layout from the shape
    assert calls[1] == ("rsm", "inner", None)
    semantic, spatial = result.rsms["conv1"]
    assert result.values[0] == pytest.approx(semrsm.cka(semantic, spatial, debiased=True))
    assert "conv2" in result.table()
    result = semrsm.compare_kinds(list(layers.values()))
    assert result.rsms is None and result.labels == ("0", "1") and result.matcher is None
    assert "matcher" not in calls[-2][4]
    semrsm.compare_kinds(layers, kernel="rbf", sigma=2.5)  # one bandwidth for both kinds
    assert calls[-2][4] == {"sigma": 2.5} and calls[-1] == ("rsm", "rbf", 2.5)


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_compare_kinds_with_the_real_rsms():
    rng = np.random.default_rng(0)
    base = np.maximum(rng.normal(size=(12, 4, 3, 3)), 0)
    # every sample's positions shuffled: the semantic RSM does not see it, the flattened one does
    shuffled = np.stack([b.reshape(4, 9)[:, rng.permutation(9)].reshape(4, 3, 3) for b in base])
    result = semrsm.compare_kinds({"plain": base, "shuffled": shuffled}, kernel="cosine", return_rsms=True)
    assert np.all((result.values > -1e-9) & (result.values <= 1.0))
    semantic_plain, _ = result.rsms["plain"]
    semantic_shuffled, spatial_shuffled = result.rsms["shuffled"]
    assert np.allclose(semantic_plain, semantic_shuffled, atol=1e-6)
    assert result.values[1] == pytest.approx(semrsm.cka(semantic_shuffled, spatial_shuffled))


@pytest.mark.filterwarnings("ignore::semrsm.UnreliableResultWarning")  # small N: numerics, not meaning
def test_compare_kinds_names_the_failing_layer(monkeypatch):
    fake_rsms(monkeypatch)
    layers = conv_layers()
    layers["conv2"] = np.zeros((16, 5, 2, 2))
    with pytest.raises(ValueError, match="layer 'conv2': "):
        semrsm.compare_kinds(layers)
