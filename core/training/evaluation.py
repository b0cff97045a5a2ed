"""Running a model over a split without gradients: logits, probabilities, loss and accuracy."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.data.digits import normalize


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits (N, 10) for uint8 images (N, 28, 28), on the images' device, in eval mode."""
    was_training = model.training
    model.eval()
    try:
        chunks = [model(normalize(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0, 10, device=images.device)


def evaluate_split(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Loss, accuracy, predicted class and its probability over one split, kept on device."""
    logits = predict_logits(model, images)
    probabilities = logits.softmax(dim=1)
    confidence, predicted = probabilities.max(dim=1)
    return {
        "loss": F.cross_entropy(logits, labels),
        "accuracy": (predicted == labels).float().mean(),
        "predicted": predicted,
        "confidence": confidence,
    }


@torch.no_grad()
def predict_probabilities(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Softmax probabilities (N, 10) for uint8 images (N, 28, 28)."""
    return predict_logits(model, images, batch_size).softmax(dim=1)
