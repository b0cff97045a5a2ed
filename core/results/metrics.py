"""The numbers computed from predictions: confusion matrix, per-class metrics, mistakes, saliency.

Pure functions of tensors.
"""
from __future__ import annotations

import torch
from torch import nn

from core.data.digits import MEAN, STD


def _check_labels(labels: torch.Tensor, predicted: torch.Tensor, n_classes: int) -> None:
    if labels.shape != predicted.shape or labels.dim() != 1:
        raise ValueError(f"labels and predicted must be 1-D and the same length, got shapes "
                         f"{tuple(labels.shape)} and {tuple(predicted.shape)}")
    for name, values in (("labels", labels), ("predicted", predicted)):
        if values.numel() and not 0 <= int(values.min()) <= int(values.max()) < n_classes:
            raise ValueError(f"{name} must be class numbers 0..{n_classes - 1}, got values "
                             f"{int(values.min())}..{int(values.max())}")


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """int64 (n_classes, n_classes): entry [t, p] counts digits of true class t predicted as p."""
    labels, predicted = labels.long().cpu(), predicted.long().cpu()
    _check_labels(labels, predicted, n_classes)
    # One bincount over t * n + p counts every (true, predicted) pair at once.
    return torch.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_metrics(matrix: torch.Tensor) -> dict[str, torch.Tensor]:
    """Precision, recall, F1 (float64) and support (int64) per class, each (n_classes,).

    A ratio whose denominator is zero (a class never predicted, or absent) is 0, as in
    scikit-learn with ``zero_division=0``.
    """
    matrix = matrix.to(torch.float64)
    hits = matrix.diagonal()
    predicted_count, support = matrix.sum(dim=0), matrix.sum(dim=1)

    def ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
        return torch.where(denominator > 0, numerator / denominator.clamp(min=1), torch.zeros_like(numerator))

    return {
        "precision": ratio(hits, predicted_count),
        "recall": ratio(hits, support),
        # 2TP / (2TP + FP + FN): the harmonic mean of precision and recall, defined when either is.
        "f1": ratio(2 * hits, predicted_count + support),
        "support": support.to(torch.int64),
    }


def weakest_class(metrics: dict[str, torch.Tensor]) -> int | None:
    """The class with the lowest F1 among those present in the split; None if none are."""
    present = metrics["support"] > 0
    if not present.any():
        return None
    f1 = torch.where(present, metrics["f1"], torch.full_like(metrics["f1"], float("inf")))
    return int(f1.argmin())


def misclassified(labels: torch.Tensor, predicted: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """Positions of the wrong predictions, most confident mistakes first (ties in index order)."""
    wrong = torch.nonzero(labels.cpu() != predicted.cpu().to(labels.dtype)).flatten()
    order = torch.sort(confidence.cpu()[wrong].to(torch.float32), descending=True, stable=True).indices
    return wrong[order]


def saliency(model: nn.Module, image: torch.Tensor, target: int | None = None) -> tuple[torch.Tensor, int]:
    """Gradient of one class's logit with respect to the input pixels, and that class.

    ``image`` is uint8 (28, 28); pixels are taken on [0, 1], so the map reads "how much the
    score for ``target`` (default: the predicted class) rises per unit of extra brightness".
    Returns float32 (28, 28) with the image's shape, and the target class.
    """
    pixels = image.to(torch.float32).div(255.0).reshape(1, *image.shape[-2:]).requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(((pixels - MEAN) / STD).unsqueeze(1))  # (1, 10)
            target = int(logits.argmax(dim=1)) if target is None else int(target)
            # autograd.grad, not backward(): the (possibly shared, cached) model's .grad stays untouched.
            (gradient,) = torch.autograd.grad(logits[0, target], pixels)
    finally:
        model.train(was_training)
    return gradient[0].detach(), target


def learned_when(labels: torch.Tensor, predicted: torch.Tensor, epochs: torch.Tensor) -> dict[str, torch.Tensor]:
    """When each digit was learned, from per-epoch predictions (E, n) of the same n digits.

    ``learned_epoch`` (n,): the first recorded epoch from which the digit stayed correct to
    the last one, or -1 if it is wrong at the last. ``never_learned`` (n,): wrong at every
    recorded epoch. ``forgotten`` (n,): correct at some epoch and wrong at a later one.
    """
    if (predicted.dim() != 2 or predicted.shape[1] != labels.numel() or predicted.shape[0] != epochs.numel()
            or epochs.numel() == 0):
        raise ValueError(f"predicted must be (epochs, digits) = ({epochs.numel()}, {labels.numel()}), "
                         f"got {tuple(predicted.shape)}")
    correct = predicted.long() == labels.long().unsqueeze(0)  # (E, n)
    rows = torch.arange(correct.shape[0]).unsqueeze(1).expand_as(correct)
    last_wrong = torch.where(correct, torch.full_like(rows, -1), rows).max(dim=0).values  # (n,), -1 = never wrong
    stays_correct = last_wrong < correct.shape[0] - 1
    first_row = (last_wrong + 1).clamp(max=correct.shape[0] - 1)
    return {
        "learned_epoch": torch.where(stays_correct, epochs.long()[first_row], torch.full_like(last_wrong, -1)),
        "never_learned": ~correct.any(dim=0),
        "forgotten": (correct[:-1] & ~correct[1:]).any(dim=0),
    }
