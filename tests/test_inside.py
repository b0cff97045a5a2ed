"""Recording a network's insides: right numbers (against independent oracles), bounded files, resume, old runs, CLI."""
import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.config import TrainConfig, model_from_config
from core.data.catalog import load_dataset
from core.data.digits import normalize
from core.inside.__main__ import main as inside_main
from core.inside.diagnosis import inside_warnings
from core.inside.measures import histogram, project_2d
from core.inside.recorder import InsideRecorder, first_layer_view
from core.inside.storage import (
    INSIDE,
    MAX_UNITS,
    PROBE_DIGITS,
    PROJECTION_DIGITS,
    Record,
    load_inside,
    on_schedule,
    save_inside,
    size_bound,
)
from core.inside.views import feature_maps, first_layer_images, layer_series
from core.runner.execute import execute
from core.runner.launch import copy_history
from core.store.run_store import RunStore, load_checkpoint
from core.train import build_parser as build_train_parser
from core.training import evaluation
from core.training.callbacks import Callback
from core.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
OLD_STORE = ROOT / "tests/fixtures/store_v1"
OLD_RUN = "20261201-110012-b95d63"


@pytest.fixture(scope="module")
def data():
    return load_dataset("embedded", val_fraction=0.1)


class LastGradients(Callback):
    """Keeps, at each epoch's end, copies of the weights and of p.grad as the loop left them."""

    def __init__(self):
        self.weights, self.grads = [], []

    def on_epoch_end(self, epoch, step, values, state):
        self.weights.append([p.detach().clone() for p in state.model.parameters()])
        self.grads.append([p.grad.detach().clone() for p in state.model.parameters()])


def record(config: TrainConfig, data, *extra: Callback) -> dict:
    recorder = InsideRecorder(data)
    train(config, (recorder, *extra), data=data)
    return recorder.record.to_payload()


def per_layer(tensors: list[torch.Tensor], model: nn.Module) -> list[float]:
    """‖·‖₂ of each Linear/Conv layer's tensors (weight and bias together), layers in order."""
    sizes = [len(list(m.parameters(recurse=False))) for m in model.modules() if next(m.parameters(False), None)
             is not None]
    norms, start = [], 0
    for size in sizes:
        norms.append(math.sqrt(sum(float(t.double().square().sum()) for t in tensors[start:start + size])))
        start += size
    return norms


def test_histograms_count_every_parameter_and_match_numpy(data):
    payload = record(TrainConfig(epochs=1, threads=1), data)
    parameters = payload["parameters"].tolist()
    assert parameters == [784 * 50 + 50, 50 * 10 + 10]
    assert payload["weight_counts"].sum(-1).tolist() == [parameters]
    assert payload["grad_counts"].sum(-1).tolist() == [parameters]
    values = torch.randn(10_000, generator=torch.Generator().manual_seed(0)) * 0.05
    counts, edges = histogram(values)
    expected, expected_edges = np.histogram(values.numpy(), bins=64, range=(values.min().item(), values.max().item()))
    assert np.abs(counts.numpy() - expected).sum() <= 2  # at most a value on a bin edge rounded the other way
    assert np.allclose(edges.numpy(), expected_edges, atol=1e-7)
    constant_counts, _ = histogram(torch.full((7,), 0.5))
    assert constant_counts.tolist() == [7] + [0] * 63


def test_gradient_norm_is_the_last_steps_and_weight_norm_the_epochs_end(data):
    kept = LastGradients()
    config = TrainConfig(epochs=2, threads=1)
    payload = record(config, data, kept)
    model = model_from_config(config.validate())
    for epoch in range(2):
        expected_grad = per_layer(kept.grads[epoch], model)
        expected_weight = per_layer(kept.weights[epoch], model)
        assert payload["grad_norm"][epoch].tolist() == pytest.approx(expected_grad, rel=1e-5)
        assert payload["weight_norm"][epoch].tolist() == pytest.approx(expected_weight, rel=1e-5)
    last = kept.grads[-1][0]
    assert payload["grad_norm"][-1, 0].item() == pytest.approx(
        math.hypot(torch.linalg.vector_norm(last).item(), torch.linalg.vector_norm(kept.grads[-1][1]).item()),
        rel=1e-5)


def test_update_ratio_of_one_sgd_step_matches_the_hand_computation(data):
    """An epoch of one batch: the weights move by exactly lr·g, so the ratio is lr·‖g‖ / ‖w₀‖."""
    one_batch = replace(data, splits={**data.splits, "train": data.splits["train"][:64]})
    config = TrainConfig(epochs=1, batch_size=64, optimizer="sgd", lr=0.5, threads=1, seed=4)
    kept = LastGradients()
    payload = record(config, one_batch, kept)
    torch.manual_seed(config.seed)  # the trainer builds its initial weights the same way
    model = model_from_config(config.validate())
    initial = [p.detach().clone() for p in model.parameters()]
    grad_norms, start_norms = per_layer(kept.grads[0], model), per_layer(initial, model)
    by_hand = [config.lr * g / w for g, w in zip(grad_norms, start_norms)]
    assert by_hand[0] > 0
    assert payload["update_ratio"][0].tolist() == pytest.approx(by_hand, rel=1e-4)
    moved = per_layer([after - before for after, before in zip(kept.weights[0], initial)], model)
    assert payload["update_ratio"][0].tolist() == pytest.approx([m / w for m, w in zip(moved, start_norms)],
                                                                rel=1e-5)


# Probe digits among the evaluated ones (in one chunk, or in chunks of 97 as a bigger split is), or
# training digits, which the loop does not evaluate.
@pytest.mark.parametrize("val_fraction, chunk", [(0.1, None), (0.1, 97), (0.0, None)])
def test_activation_numbers_and_the_map_are_those_of_the_probe_digits_by_hand(val_fraction, chunk, monkeypatch):
    """The guide's MLP by hand from each epoch's weights: ReLU(x·W₁ᵀ + b₁) over the probe digits gives
    mean, std and dead units; over the map's test digits, the features the first snapshot maps."""
    if chunk is not None:
        monkeypatch.setattr(evaluation.predict_logits.__wrapped__, "__defaults__", (chunk,))
    data = load_dataset("embedded", val_fraction=val_fraction)
    kept = LastGradients()
    payload = record(TrainConfig(epochs=2, threads=1), data, kept)
    probe_split = "val" if val_fraction else "train"
    assert payload["probe_split"] == probe_split
    probe = normalize(data.images[data.splits[probe_split][payload["probe_positions"].long()]]).flatten(1)
    mapped = normalize(data.images[data.splits["test"][payload["projection_positions"].long()]]).flatten(1)
    assert len(probe) == PROBE_DIGITS and len(mapped) == PROJECTION_DIGITS
    for epoch, (w1, b1, w2, b2) in enumerate(kept.weights):
        hidden = torch.relu(probe @ w1.T + b1)
        logits = hidden @ w2.T + b2
        dead = (hidden.amax(0) <= 0).float().mean().item()
        assert payload["activation_mean"][epoch].tolist() == pytest.approx([hidden.mean().item(), logits.mean().item()],
                                                                           rel=1e-4, abs=1e-6)
        assert payload["activation_std"][epoch].tolist() == pytest.approx([hidden.std().item(), logits.std().item()],
                                                                          rel=1e-4)
        assert payload["dead_fraction"][epoch, 0].item() == pytest.approx(dead)
        assert math.isnan(payload["dead_fraction"][epoch, 1].item()), "no ReLU after the output layer"
    w1, b1, _, _ = kept.weights[0]
    by_hand, _ = project_2d(torch.relu(mapped @ w1.T + b1))
    assert payload["snapshot_epochs"].tolist()[0] == 1
    assert torch.allclose(payload["projection"][0].float(), by_hand, atol=2e-3 * by_hand.abs().max().item())


@pytest.mark.parametrize("shape", [(300, 20), (40, 100)])  # the covariance path and the Gram-matrix path
def test_projection_matches_numpy_svd_up_to_sign(shape):
    generator = torch.Generator().manual_seed(1)
    n, d = shape
    features = torch.randn(n, d, generator=generator) * torch.linspace(3, 0.1, d) + 5  # distinct variances
    points, variance = project_2d(features)
    centered = features.double().numpy() - features.double().numpy().mean(axis=0)
    _, singular, vt = np.linalg.svd(centered, full_matrices=False)
    expected = centered @ vt[:2].T
    signs = np.sign((points.numpy() * expected).sum(axis=0))
    assert np.allclose(points.numpy(), expected * signs, atol=1e-3)
    assert np.allclose(variance.numpy(), singular[:2] ** 2 / (singular ** 2).sum(), atol=1e-5)
    flipped, _ = project_2d(features, previous=-points)
    assert torch.allclose(flipped, -points), "axes must turn to agree with the previous epoch's picture"


def test_vanishing_gradients_are_warned_for_a_deep_sigmoid_net_and_not_for_relu(data):
    deep = dict(hidden=(128,) * 4, optimizer="sgd", lr=0.1, epochs=1, threads=1)
    sigmoid = record(TrainConfig(activation="sigmoid", **deep), data)
    relu = record(TrainConfig(activation="relu", **deep), data)
    sigmoid_ratio = (sigmoid["grad_norm"][-1, 0] / sigmoid["grad_norm"][-1, -1]).item()
    relu_ratio = (relu["grad_norm"][-1, 0] / relu["grad_norm"][-1, -1]).item()
    assert sigmoid_ratio < 1 / 100 < 1 / 10 < relu_ratio
    [warning] = [w for w in inside_warnings(sigmoid) if w.kind == "vanishing_gradients"]
    assert warning.layer == "layers.1" and "smaller than the last layer's" in warning.message
    assert "vanishing_gradients" not in [w.kind for w in inside_warnings(relu)]


def test_a_learning_rate_too_high_is_warned_and_the_guides_mlp_is_not(data):
    assert inside_warnings(record(TrainConfig(epochs=2, threads=1), data)) == []
    kinds = [w.kind for w in inside_warnings(record(TrainConfig(epochs=2, lr=0.1, threads=1), data))]
    assert "exploding_updates" in kinds and "dying_relus" in kinds


def test_recording_changes_nothing_the_run_learns(data):
    class Losses(Callback):
        def __init__(self):
            self.values = []

        def on_log(self, step, epoch, values, progress):
            self.values.append(values["loss"])

    config = TrainConfig(epochs=2, dropout=0.2, threads=1)
    plain, recorded = Losses(), Losses()
    train(config, (plain,), data=data)
    train(config, (InsideRecorder(data), recorded), data=data)
    assert recorded.values == plain.values


def test_first_layer_images_are_the_weights_and_are_capped(data):
    kept = LastGradients()
    payload = record(TrainConfig(epochs=3, threads=1), data, kept)
    assert payload["snapshot_epochs"].tolist() == [1, 2, 3]  # 1 and 2 scheduled, 3 the last
    images = first_layer_images(payload, 3)
    weights = kept.weights[-1][0].reshape(50, 28, 28).numpy()
    scale = np.abs(weights).max(axis=(1, 2), keepdims=True)
    assert images.shape == (50, 28, 28) and np.all(np.abs(images - weights) <= scale / 254 + 1e-7)
    assert first_layer_view(nn.Linear(784, 4096)).shape == (MAX_UNITS, 28, 28)
    assert first_layer_view(nn.Conv2d(1, 256, 5)).shape == (MAX_UNITS, 5, 5)


def test_feature_maps_are_each_conv_layers_activations():
    torch.manual_seed(0)
    model = model_from_config(TrainConfig(model="cnn").validate()).train()
    image = (torch.rand(28, 28) * 255).to(torch.uint8)
    maps = feature_maps(model, image)
    assert [(m["name"], m["maps"].shape) for m in maps] == [("features.0", (8, 28, 28)), ("features.3", (16, 10, 10))]
    with torch.no_grad():
        expected = F.relu(model.features[0](normalize(image[None])))[0].numpy()
    assert np.allclose(maps[0]["maps"], expected, atol=1e-6)
    assert model.training, "the model's training mode is restored"
    with pytest.raises(ValueError, match="convolutional"):
        feature_maps(model_from_config(TrainConfig().validate()), image)


def test_a_4x4096_mlp_over_1000_epochs_stays_under_the_stated_bound(tmp_path):
    """Rows shaped as the widest MLP the form allows records them (5 layers, 64 of 4,096 units kept)."""
    layers = 5
    header = {"layers": [f"layers.{i}" for i in range(layers)], "kinds": ["Linear"] * layers,
              "activations": ["relu"] * 4 + [""],
              "parameters": torch.tensor([784 * 4096] + [4096 * 4096] * 3 + [40960]),
              "steps_per_epoch": 29, "projection_positions": torch.arange(PROJECTION_DIGITS, dtype=torch.int32),
              "projection_labels": torch.zeros(PROJECTION_DIGITS, dtype=torch.uint8), "probe_split": "val",
              "probe_positions": torch.arange(PROBE_DIGITS, dtype=torch.int32), "first_layer_name": "layers.1",
              "first_layer_units": 4096}
    recording = Record(header)
    series = {name: torch.rand(layers) for name in ("weight_norm", "grad_norm", "update_ratio", "dead_fraction",
                                                    "activation_mean", "activation_std")}
    snapshot = {"weight_counts": torch.randint(0, 10**6, (layers, 64)), "weight_edges": torch.rand(layers, 65),
                "grad_counts": torch.randint(0, 10**6, (layers, 64)), "grad_edges": torch.rand(layers, 65),
                "projection": torch.rand(PROJECTION_DIGITS, 2), "projection_variance": torch.rand(2),
                "first_layer": torch.randint(0, 255, (MAX_UNITS, 28, 28), dtype=torch.uint8),
                "first_layer_scale": torch.rand(MAX_UNITS)}
    for epoch in range(1, 1001):
        recording.append({"epoch": epoch, **series, **(snapshot if on_schedule(epoch) or epoch == 1000 else {})})
    save_inside(tmp_path, recording)
    size = (tmp_path / INSIDE).stat().st_size
    assert recording.to_payload()["snapshot_epochs"].tolist() == [2 ** k for k in range(10)] + [1000]
    assert size <= size_bound(layers, MAX_UNITS, 28 * 28) <= 1024 * 1024, size


def test_resumed_run_continues_the_series_as_if_never_interrupted(tmp_path):
    store = RunStore(tmp_path)
    straight = TrainConfig(epochs=5, seed=2, threads=1).validate()
    straight_id = store.create_run(straight.to_dict())
    execute(store, straight_id, straight)
    parent = replace(straight, epochs=3)
    parent_id = store.create_run(parent.to_dict())
    execute(store, parent_id, parent)
    assert load_inside(store, parent_id)["snapshot_epochs"].tolist() == [1, 2, 3]
    child_id = store.create_run(straight.to_dict(), parent_id=parent_id, origin="resume")
    copy_history(store, parent_id, child_id)
    execute(store, child_id, straight, resume=load_checkpoint(store, parent_id))
    child, expected = load_inside(store, child_id), load_inside(store, straight_id)
    assert child["epochs"].tolist() == [1, 2, 3, 4, 5]
    assert child["snapshot_epochs"].tolist() == [1, 2, 4, 5], "the parent's last-epoch snapshot gives way"
    for name in ("weight_norm", "grad_norm", "update_ratio", "dead_fraction", "activation_std"):
        assert torch.allclose(child[name], expected[name], equal_nan=True, rtol=1e-5), name
    assert (store.run_dir(child_id) / INSIDE).stat().st_size <= size_bound(2, 50, 784, epochs=5)


def test_an_old_run_and_a_run_without_recording_say_why_they_have_none(tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(OLD_STORE, root)
    store = RunStore(root)
    with pytest.raises(ValueError, match=r"recorded from .* on.*; this run has none"):
        load_inside(store, OLD_RUN)
    done = subprocess.run([sys.executable, "-m", "core.inside", "--run", OLD_RUN, "--runs-dir", str(root)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "this run has none" in done.stderr and "Traceback" not in done.stderr
    config = TrainConfig(epochs=1, inside=False, threads=1).validate()
    run_id = store.create_run(config.to_dict())
    execute(store, run_id, config)
    assert not (store.run_dir(run_id) / INSIDE).exists()
    with pytest.raises(ValueError, match="inside` off"):
        load_inside(store, run_id)
    with pytest.raises(ValueError, match="inside must be true or false"):
        TrainConfig(inside="yes").validate()


def test_command_line_json_contract_and_table(tmp_path, capsys):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=2, threads=1).validate()
    run_id = store.create_run(config.to_dict())
    execute(store, run_id, config)

    done = subprocess.run([sys.executable, "-m", "core.inside", "--runs-dir", str(tmp_path), "--run", run_id,
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert [layer["name"] for layer in shown["layers"]] == ["layers.1", "layers.3"]  # forward order
    for layer in shown["layers"]:
        assert [row["epoch"] for row in layer["epochs"]] == [1, 2]
        for row in layer["epochs"]:
            assert {"epoch", "weight_norm", "grad_norm", "update_ratio", "dead_fraction"} <= set(row)
            assert row["weight_norm"] > 0 and row["grad_norm"] > 0 and row["update_ratio"] > 0
    assert 0 <= shown["layers"][0]["epochs"][-1]["dead_fraction"] <= 1
    assert shown["layers"][1]["epochs"][-1]["dead_fraction"] is None, "no ReLU after the output layer"
    assert shown["layers"] == json.loads(json.dumps(layer_series(load_inside(store, run_id))))
    assert shown["warnings"] == []
    assert inside_main(["--run", run_id, "--runs-dir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "layers.1" in table and "Linear 784→50" in table and "grad norm (last step)" in table
    assert inside_main(["--run", "no-such-run", "--runs-dir", str(tmp_path), "--json"]) == 2
    shown = capsys.readouterr()
    assert "does not exist" in shown.err and shown.out == ""


def test_train_command_takes_inside_flags():
    text = build_train_parser().format_help()
    assert "--inside" in text and "--no-inside" in text
