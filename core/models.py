"""The two model families, built from plain config values so a checkpoint can rebuild them."""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}
MODELS = ("mlp", "cnn")
N_CLASSES = 10


class MLP(nn.Module):
    """Fully connected net on flattened pixels; hidden=(50,) is the guide's 784-50-10."""

    def __init__(self, hidden: tuple[int, ...] = (50,), activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = 28 * 28
        for size in hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, N_CLASSES))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 28, 28) -> (B, 10) logits
        return self.layers(x)


class CNN(nn.Module):
    """LeNet-style: two 5x5 conv + max-pool blocks, one hidden dense layer.

    Small on purpose: with channels (8, 16) an epoch over 3,600 digits takes about a
    second on one laptop core, so training is live to watch.
    """

    def __init__(self, channels: tuple[int, int] = (8, 16), hidden: int = 64, activation: str = "relu",
                 dropout: float = 0.0):
        super().__init__()
        c1, c2 = channels
        act = ACTIVATIONS[activation]
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2), act(), nn.MaxPool2d(2),  # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, 5), act(), nn.MaxPool2d(2),  # (B, c2, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * 5 * 5, hidden), act(), nn.Dropout(dropout), nn.Linear(hidden, N_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 28, 28) -> (B, 10) logits
        return self.classifier(self.features(x))


def build_model(model: str, hidden: tuple[int, ...] = (50,), channels: tuple[int, int] = (8, 16),
                activation: str = "relu", dropout: float = 0.0) -> nn.Module:
    """Build ``mlp`` or ``cnn``; for the CNN, ``hidden[0]`` is the dense layer's width."""
    if model == "mlp":
        return MLP(tuple(hidden), activation, dropout)
    if model == "cnn":
        return CNN(tuple(channels), hidden[0] if hidden else 64, activation, dropout)
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
