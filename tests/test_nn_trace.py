"""nn.Module page logic: the layer table and the shape-by-shape trace made with forward hooks."""
import pytest
import torch

from core.lessons.nn_trace import class_probabilities, layer_table, parse_sizes, seeded_model, trace_forward
from core.models import count_parameters

IMAGE = torch.linspace(-1, 1, 784).reshape(1, 1, 28, 28)  # any (1, 1, 28, 28) input will do


def test_parse_sizes():
    assert parse_sizes("128, 64") == (128, 64)
    assert parse_sizes(" 50 ") == (50,)
    for text, message in [("", "give 1 to"), ("abc", "'abc' is not a width"), ("0", "'0' is not a width"),
                          ("1,2,3,4,5", "give 1 to 4"), ("-5", "'-5' is not a width")]:
        with pytest.raises(ValueError, match=f"^hidden: {message}"):
            parse_sizes(text)


def test_guide_mlp_table_counts_every_parameter():
    model = seeded_model("mlp", (50,), (8, 16), "relu", 0.0, seed=0)
    rows = layer_table(model)
    assert [row["type"] for row in rows] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert rows[1]["parameter shapes"] == "weight (50, 784), bias (50,)"
    assert [row["parameters"] for row in rows] == [0, 784 * 50 + 50, 0, 50 * 10 + 10]
    assert sum(row["parameters"] for row in rows) == count_parameters(model) == 39_760


def test_cnn_trace_shapes_layer_by_layer():
    model = seeded_model("cnn", (64,), (8, 16), "relu", 0.0, seed=0)
    rows, logits = trace_forward(model, IMAGE)
    shapes = [row["output shape"] for row in rows]
    assert shapes == ["(1, 1, 28, 28)", "(1, 8, 28, 28)", "(1, 8, 28, 28)", "(1, 8, 14, 14)", "(1, 16, 10, 10)",
                      "(1, 16, 10, 10)", "(1, 16, 5, 5)", "(1, 400)", "(1, 64)", "(1, 64)", "(1, 64)", "(1, 10)"]
    assert all(row["input shape"] == previous["output shape"] for previous, row in zip(rows, rows[1:]))
    assert rows[2]["min"] >= 0.0  # after a ReLU
    assert logits.shape == (1, 10)
    assert sum(layer["parameters"] for layer in layer_table(model)) == count_parameters(model)


def test_trace_leaves_no_hooks_and_matches_a_plain_forward():
    model = seeded_model("mlp", (32, 16), (8, 16), "tanh", 0.5, seed=1)
    _, logits = trace_forward(model, IMAGE)
    assert all(not module._forward_hooks for module in model.modules())
    with torch.no_grad():
        assert torch.equal(logits, model.eval()(IMAGE))  # eval: dropout is off in the trace


def test_seeded_model_is_repeatable_and_leaves_global_rng_alone():
    before = torch.random.get_rng_state()
    first = seeded_model("mlp", (20,), (8, 16), "relu", 0.0, seed=3)
    second = seeded_model("mlp", (20,), (8, 16), "relu", 0.0, seed=3)
    assert torch.equal(before, torch.random.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))


def test_probabilities_sum_to_one():
    probabilities = class_probabilities(torch.tensor([[0.0] * 9 + [2.0]]))
    assert len(probabilities) == 10 and sum(probabilities) == pytest.approx(1.0)
    assert max(probabilities) == probabilities[9]
