"""NumPy vs PyTorch: hand-written backprop against autograd (the oracle), and the side-by-side run."""
import numpy as np
import pytest
import torch

from core.lessons.numpy_net import (
    NetConfig,
    compare,
    init_params,
    listings,
    make_data,
    numpy_gradients,
    torch_gradients,
    torch_net_from,
)


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("n_samples, n_inputs, hidden, seed", [(3, 4, 3, 0), (1, 1, 1, 1), (17, 6, 8, 2),
                                                               (64, 10, 32, 3), (5, 2, 50, 4)])
def test_numpy_gradients_equal_autograd(loss, n_samples, n_inputs, hidden, seed):
    rng = np.random.default_rng(100 + seed)
    X = rng.normal(size=(n_samples, n_inputs))
    y = rng.integers(0, 2, size=(n_samples, 1)).astype(np.float64)
    params = init_params(n_inputs, hidden, seed)
    ours = numpy_gradients(params, X, y, loss)
    reference = torch_gradients(torch_net_from(params), X, y, loss)
    for name in ("w1", "b1", "w2", "b2"):
        assert ours[name].shape == params[name].shape
        np.testing.assert_allclose(ours[name], reference[name], rtol=0, atol=1e-6)
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-9, atol=1e-15)  # float64: far tighter


def test_torch_net_holds_the_same_weights():
    params = init_params(4, 3, seed=5)
    model = torch_net_from(params)
    np.testing.assert_array_equal(model.hidden.weight.detach().numpy(), params["w1"].T)
    np.testing.assert_array_equal(model.output.bias.detach().numpy(), params["b2"].ravel())
    assert model.hidden.weight.dtype == torch.float64


def test_guide_network_trains_identically_in_float64():
    result = compare(NetConfig())
    assert result.max_gradient_difference < 1e-12
    assert result.max_loss_difference < 1e-12
    assert len(result.numpy_losses) == len(result.torch_losses) == 1_000
    assert result.numpy_losses[-1] < 0.1 * result.numpy_losses[0]  # it learned
    assert result.numpy_accuracy == result.torch_accuracy == 1.0  # the guide's three samples, all right
    assert [row["label"] for row in result.predictions] == [1, 1, 0]
    assert result.numpy_seconds_per_step > 0 and result.torch_seconds_per_step > 0


def test_float32_agrees_only_to_single_precision():
    result = compare(NetConfig(dtype="float32", loss="bce", steps=200))
    assert 1e-12 < result.max_loss_difference < 1e-4
    assert result.max_gradient_difference < 1e-5


def test_blobs_are_balanced_and_learnable():
    config = NetConfig(dataset="blobs", n_samples=40, n_features=3, hidden=4, loss="bce", steps=300, seed=1)
    X, y = make_data(config)
    assert X.shape == (40, 3) and y.mean() == 0.5
    assert compare(config).torch_accuracy > 0.9


def test_listings_are_the_real_functions():
    code = listings()
    assert "def numpy_backward(params, X, y, hidden, output, loss):" in code["numpy"]
    assert "d_hidden = (d_output @ params[\"w2\"].T) * hidden * (1 - hidden)" in code["numpy"]
    assert "class TorchNet(nn.Module):" in code["torch"] and "torch.optim.SGD" in code["torch"]
    assert "d_output" not in code["torch"] and "value.backward()" in code["torch"]  # autograd, no hand-made gradients


@pytest.mark.parametrize("field, value", [("hidden", 0), ("lr", -1.0), ("loss", "hinge"), ("dtype", "float16"),
                                          ("steps", 0), ("dataset", "iris")])
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field} must be"):
        compare(NetConfig(**{field: value}))
