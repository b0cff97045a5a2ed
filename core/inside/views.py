"""A recording turned into what a page or a shell shows: per-layer series, snapshots, feature maps.

Plain Python numbers and NumPy arrays; NaN (no such number) becomes None in the series.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from core.data.digits import IMAGE_SIZE, normalize
from core.inside.measures import dequantize
from core.inside.recorder import activation_after, layer_kind, parameter_layers
from core.inside.storage import SERIES

# What the --json output and the readable table show per epoch; the rest of SERIES is there too.
TABLE = ("weight_norm", "grad_norm", "update_ratio", "dead_fraction")


def _number(value: float) -> float | None:
    """JSON has no NaN or infinity: a number that is not one is None."""
    return value if math.isfinite(value) else None


def layer_series(payload: dict) -> list[dict]:
    """[{"name", "kind", "activation", "parameters", "epochs": [{"epoch", SERIES...}, ...]}, ...] in forward order."""
    epochs = payload["epochs"].tolist()
    columns = {name: payload[name].tolist() for name in SERIES}  # each (E, L)
    return [{"name": name, "kind": kind, "activation": activation, "parameters": int(parameters),
             "epochs": [{"epoch": epoch, **{key: _number(columns[key][row][layer]) for key in SERIES}}
                        for row, epoch in enumerate(epochs)]}
            for layer, (name, kind, activation, parameters) in enumerate(
                zip(payload["layers"], payload["kinds"], payload["activations"], payload["parameters"].tolist()))]


def snapshot_epochs(payload: dict) -> list[int]:
    """Epochs with histograms, a 2-D map and first-layer images, ascending."""
    return payload["snapshot_epochs"].tolist()


def _snapshot_row(payload: dict, epoch: int | None) -> int:
    epochs = snapshot_epochs(payload)
    if not epochs:
        raise ValueError("No snapshot recorded yet: the first is taken at the end of epoch 1.")
    epoch = epochs[-1] if epoch is None else int(epoch)
    if epoch not in epochs:
        raise ValueError(f"epoch must be one with a snapshot, {epochs}; got {epoch}")
    return epochs.index(epoch)


def histograms(payload: dict, epoch: int | None = None) -> list[dict]:
    """Per layer at a snapshot epoch (default: the latest): weight and gradient counts (64,) and edges (65,)."""
    row = _snapshot_row(payload, epoch)
    return [{"name": name,
             "weight_counts": payload["weight_counts"][row, layer].numpy(),
             "weight_edges": payload["weight_edges"][row, layer].numpy(),
             "grad_counts": payload["grad_counts"][row, layer].numpy(),
             "grad_edges": payload["grad_edges"][row, layer].numpy()}
            for layer, name in enumerate(payload["layers"])]


def projection(payload: dict, epoch: int | None = None) -> dict:
    """The last hidden layer's 2-D map at a snapshot epoch: points (n, 2), labels (n,), test positions (n,)."""
    row = _snapshot_row(payload, epoch)
    return {"points": payload["projection"][row].float().numpy(),
            "variance": payload["projection_variance"][row].numpy(),
            "labels": payload["projection_labels"].numpy().astype(np.int64),
            "positions": payload["projection_positions"].numpy().astype(np.int64)}


def first_layer_images(payload: dict, epoch: int | None = None) -> np.ndarray:
    """The first layer's weights as float32 images (U, h, w) at a snapshot epoch (default: the latest)."""
    row = _snapshot_row(payload, epoch)
    return dequantize(payload["first_layer"][row], payload["first_layer_scale"][row]).numpy()


@torch.no_grad()
def feature_maps(model: nn.Module, image: torch.Tensor) -> list[dict]:
    """What every conv layer of a CNN makes of one digit: [{"name", "kind", "maps": float32 (C, H, W)}, ...].

    ``image`` is a uint8 digit (28, 28); the maps are each conv layer's output after its
    activation (what the next layer sees), in forward order, computed in eval mode with hooks
    attached for this one pass. A model without conv layers is a ValueError.
    """
    convs = [(name, module) for name, module in parameter_layers(model) if isinstance(module, nn.Conv2d)]
    if not convs:
        raise ValueError("Feature maps belong to convolutional layers, and this model has none (an MLP?).")
    device = next(model.parameters()).device
    activations = activation_after(model, [module for _, module in convs])
    maps: dict[int, torch.Tensor] = {}
    handles = [(activation if activation is not None else module).register_forward_hook(
        lambda module, inputs, output, i=i: maps.__setitem__(i, output[0].float().cpu()))
        for i, ((_, module), activation) in enumerate(zip(convs, activations))]
    was_training = model.training
    model.eval()
    try:
        model(normalize(image.reshape(1, IMAGE_SIZE, IMAGE_SIZE).to(device)))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return [{"name": name, "kind": layer_kind(module), "maps": maps[i].numpy()}
            for i, (name, module) in enumerate(convs)]
