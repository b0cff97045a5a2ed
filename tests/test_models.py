import pytest
import torch

from core.models import build_model, count_parameters


def test_guide_mlp_is_784_50_10():
    model = build_model("mlp", (50,))
    assert count_parameters(model) == 784 * 50 + 50 + 50 * 10 + 10
    assert model(torch.zeros(7, 1, 28, 28)).shape == (7, 10)


def test_mlp_hidden_layers_activation_dropout_configurable():
    model = build_model("mlp", (128, 64), activation="tanh", dropout=0.2)
    assert count_parameters(model) == (784 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10)
    kinds = [type(m).__name__ for m in model.modules()]
    assert kinds.count("Tanh") == 2 and kinds.count("Dropout") == 2


def test_cnn_shape_and_channels():
    small, wide = build_model("cnn", (64,), (8, 16)), build_model("cnn", (64,), (16, 32))
    assert small(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert count_parameters(wide) > count_parameters(small)
    conv = [m for m in wide.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in conv] == [16, 32]


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="model must be one of"):
        build_model("transformer")
