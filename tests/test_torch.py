"""Feature extraction from PyTorch models (skipped without torch)."""

import subprocess
import sys

import numpy as np
import pytest

import semrsm


def test_import_semrsm_does_not_import_torch():
    code = "import sys, semrsm, semrsm.torch; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


torch = pytest.importorskip("torch")
from semrsm.torch import extract, layer_names  # noqa: E402


def small_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3), torch.nn.Dropout(0.5), torch.nn.ReLU()),
        torch.nn.Flatten(), torch.nn.Linear(6 * 6 * 6, 3))


def images(n=10):
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def test_extract_equals_a_manual_forward_pass():
    model, x = small_cnn(), images()
    feats = extract(model, x, ["2", "3.2", "5"], batch_size=3, progress=False)
    assert list(feats) == ["2", "3.2", "5"]
    model.eval()
    with torch.no_grad():
        first = model[2](model[1](model[0](x)))
        second = model[3](first)
        logits = model[5](model[4](second))
    for got, want in zip(feats.values(), (first, second, logits)):
        assert isinstance(got, np.ndarray) and got.dtype == np.float32
        assert np.allclose(got, want.numpy(), atol=1e-6)
    assert feats["3.2"].shape == (10, 6, 6, 6)


def test_labels_modules_and_numpy_or_loader_inputs():
    model, x = small_cnn(), images(7)
    by_name = extract(model, x, {"conv": "0", "head": model[5]}, progress=False)
    assert list(by_name) == ["conv", "head"]
    from_numpy = extract(model, x.numpy(), [model[0]], batch_size=2, progress=False)
    assert list(from_numpy) == ["0"] and np.allclose(from_numpy["0"], by_name["conv"])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(7)), batch_size=4)
    from_loader = extract(model, loader, "5", progress=False)
    assert np.allclose(from_loader["5"], by_name["head"], atol=1e-6)


def test_state_is_restored_and_no_gradients():
    model, x = small_cnn(), images()
    model.train()
    seen = {}
    model[0].register_forward_hook(lambda m, a, out: seen.update(grad=torch.is_grad_enabled()))
    extract(model, x, ["0"], progress=False)
    assert model.training and seen["grad"] is False
    assert all(not m._forward_hooks for m in model.modules() if m is not model[0])
    assert len(model[0]._forward_hooks) == 1  # only the test's own hook is left
    feats_eval = extract(model, x, ["3"], progress=False)
    assert np.allclose(feats_eval["3"], extract(model, x, ["3"], progress=False)["3"])  # dropout off


def test_tuple_outputs_and_similarity_pipeline():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 7, batch_first=True)
    model = torch.nn.Sequential()
    model.add_module("rnn", lstm)
    x = torch.randn(12, 4, 5)
    feats = extract(model, x, ["rnn"], batch_size=5, progress=False)
    assert feats["rnn"].shape == (12, 4, 7)  # the first element of (output, (h, c))
    sim = semrsm.similarity_matrix(extract(small_cnn(), images(20), ["0", "3", "5"], progress=False))
    assert np.allclose(np.diag(sim.values), 1.0)


def test_progress_bar(capsys):
    extract(small_cnn(), images(), ["0"], batch_size=4, progress=True)
    assert "extract" in capsys.readouterr().err


def test_errors():
    model, x = small_cnn(), images()
    with pytest.raises(ValueError, match="no submodule 'conv9'.*'0', '1'"):
        extract(model, x, ["conv9"], progress=False)
    with pytest.raises(TypeError, match="submodule name"):
        extract(model, x, [torch.nn.ReLU()], progress=False)
    with pytest.raises(ValueError, match="at least one"):
        extract(model, x, [], progress=False)
    with pytest.raises(ValueError, match="more than once"):
        extract(model, x, ["0", model[0]], progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        extract(model, x, ["0"], batch_size=0, progress=False)
    with pytest.raises(ValueError, match="unknown output"):
        extract(model, x, ["0"], output="jax", progress=False)
    with pytest.raises(ValueError, match="CUDA device"):
        extract(model, x, ["0"], output="cupy", progress=False)
    with pytest.raises(ValueError, match="non-empty sample axis"):
        extract(model, x[:0], ["0"], progress=False)
    branchy = torch.nn.ModuleDict({"used": torch.nn.Linear(2, 2), "unused": torch.nn.Linear(2, 2)})
    branchy.forward = lambda inp: branchy["used"](inp)
    with pytest.raises(ValueError, match="'unused' did not run"):
        extract(branchy, torch.ones(3, 2), ["used", "unused"], progress=False)
    assert layer_names(model)[:3] == ["0", "1", "2"]


def test_cupy_output_stays_on_the_gpu():
    cupy = pytest.importorskip("cupy")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device for torch")
    model, x = small_cnn().cuda(), images()
    feats = extract(model, x, ["0", "5"], output="cupy", progress=False)
    assert isinstance(feats["0"], cupy.ndarray) and feats["0"].shape == (10, 4, 8, 8)
    cpu = extract(model, x, ["0", "5"], progress=False)
    assert np.allclose(feats["5"].get(), cpu["5"], atol=1e-5)
    assert isinstance(extract(model, x, ["5"], output="torch", progress=False)["5"], torch.Tensor)
