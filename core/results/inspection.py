"""What the Inspect page shows for one run, assembled from the run store, as numbers and arrays.

``inspect_summary(store, run_id, epoch)`` is everything the page shows except images and
what needs the model (one digit's probabilities and saliency); ``summarize`` is its pure
core over arrays. Both are what a benchmark should time. Figures are drawn by the dashboard.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.data.catalog import load_dataset
from core.data.digits import DigitData
from core.results.metrics import (
    confusion_matrix,
    learned_when,
    misclassified,
    per_class_metrics,
    saliency,
    weakest_class,
)
from core.store.run_store import RunStore, load_predictions
from core.training.evaluation import predict_probabilities

N_CLASSES = 10
ORDERS = {"confidence": "most confident first", "index": "test index"}


@dataclass
class InspectSummary:
    """One run's test predictions after one epoch, and the numbers the page shows."""

    run_id: str
    epochs: list[int]  # epochs with recorded test predictions, ascending
    epoch: int  # the epoch shown
    labels: np.ndarray  # int64 (n,): true class of each test digit, in data.splits["test"] order
    predicted: np.ndarray  # int64 (n,): predicted class after `epoch`
    confidence: np.ndarray  # float32 (n,): probability the model gave its predicted class
    accuracy: float
    matrix: np.ndarray  # int64 (10, 10): [true, predicted] counts
    metrics: dict[str, np.ndarray]  # precision, recall, f1, support: each (10,)
    weakest: int | None  # the present class with the lowest F1
    mistakes: np.ndarray  # positions of wrong predictions, most confident first
    learned_epoch: np.ndarray  # int64 (n,): first epoch from which it stayed correct; -1 = wrong at the last
    never_learned: np.ndarray  # positions wrong at every recorded epoch
    forgotten: np.ndarray  # positions correct at some epoch and wrong at a later one


def summarize(labels: torch.Tensor, epochs: torch.Tensor, predicted: torch.Tensor, confidence: torch.Tensor,
              epoch: int | None = None, run_id: str = "") -> InspectSummary:
    """Everything shown for ``epoch`` (default: the latest) from per-epoch predictions (E, n)."""
    epoch_list = [int(e) for e in epochs.tolist()]
    if predicted.dim() != 2 or predicted.shape[1] != labels.numel():
        raise ValueError(f"The predictions cover {predicted.shape[-1]} test digits but the dataset's test split has "
                         f"{labels.numel()}: the dataset changed since the run was trained.")
    epoch = epoch_list[-1] if epoch is None else int(epoch)
    if epoch not in epoch_list:
        raise ValueError(f"epoch must be one of the recorded epochs {epoch_list}, got {epoch}")
    row = epoch_list.index(epoch)
    shown, sure = predicted[row].long(), confidence[row].float()
    matrix = confusion_matrix(labels, shown, N_CLASSES)
    metrics = per_class_metrics(matrix)
    learned = learned_when(labels, predicted, epochs)
    return InspectSummary(
        run_id=run_id, epochs=epoch_list, epoch=epoch, labels=labels.numpy(), predicted=shown.numpy(),
        confidence=sure.numpy(), accuracy=float(matrix.diagonal().sum()) / max(1, labels.numel()),
        matrix=matrix.numpy(), metrics={name: value.numpy() for name, value in metrics.items()},
        weakest=weakest_class(metrics), mistakes=misclassified(labels, shown, sure).numpy(),
        learned_epoch=learned["learned_epoch"].numpy(),
        never_learned=torch.nonzero(learned["never_learned"]).flatten().numpy(),
        forgotten=torch.nonzero(learned["forgotten"]).flatten().numpy(),
    )


def dataset_source(config: dict) -> tuple[str, float, str]:
    """(dataset, val_fraction, data_dir) of a run's config: what ``load_dataset`` needs, hashable."""
    return config.get("dataset", "embedded"), config.get("val_fraction", 0.1), str(config.get("data_dir", "data"))


def run_dataset(store: RunStore, run_id: str) -> DigitData:
    """The dataset a run was trained on (its test split is what the run's predictions cover)."""
    run = store.get(run_id)
    if run is None:
        raise ValueError(f"Run {run_id} does not exist (deleted?). Pick another run.")
    return load_dataset(*dataset_source(run.config))


def inspect_summary(store: RunStore, run_id: str, epoch: int | None = None,
                    data: DigitData | None = None) -> InspectSummary:
    """The page's numbers for one run after one epoch; ``data`` saves reloading the run's dataset."""
    predictions = load_predictions(store, run_id)
    data = data if data is not None else run_dataset(store, run_id)
    labels = data.labels[data.splits["test"]]
    return summarize(labels, predictions["epochs"], predictions["predicted"], predictions["confidence"], epoch,
                     run_id)


def file_mtime(store: RunStore, run_id: str, filename: str) -> float:
    """Modification time of a run's file (0 if absent): a cache key that changes every epoch."""
    path = store.run_dir(run_id) / filename
    return path.stat().st_mtime if path.exists() else 0.0


def gallery_indices(summary: InspectSummary, true_class: int | None = None, predicted_class: int | None = None,
                    order: str = "confidence") -> np.ndarray:
    """Test positions for the gallery: the mistakes, narrowed to a true and/or predicted class.

    The same class for both (a diagonal cell of the matrix) shows that class's correct digits.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {sorted(ORDERS)}, got {order!r}")
    labels, predicted = summary.labels, summary.predicted
    if true_class is not None and true_class == predicted_class:
        chosen = np.nonzero((labels == true_class) & (predicted == true_class))[0]
        chosen = chosen[np.argsort(-summary.confidence[chosen], kind="stable")]
    else:
        chosen = summary.mistakes
        if true_class is not None:
            chosen = chosen[labels[chosen] == true_class]
        if predicted_class is not None:
            chosen = chosen[predicted[chosen] == predicted_class]
    return np.sort(chosen) if order == "index" else chosen


def page_count(n_items: int, per_page: int) -> int:
    return max(1, -(-n_items // per_page))  # ceiling division; an empty list is one (empty) page


def page_bounds(n_items: int, page: int, per_page: int) -> tuple[int, int]:
    """[start, stop) of 1-based ``page``; a page past the end shows the last one."""
    page = min(max(page, 1), page_count(n_items, per_page))
    return (page - 1) * per_page, min(page * per_page, n_items)


def upscale(images: np.ndarray | torch.Tensor, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling of (..., H, W) so each pixel stays a crisp square."""
    images = np.asarray(images)
    return images.repeat(scale, axis=-2).repeat(scale, axis=-1)


def captions(summary: InspectSummary, positions: np.ndarray) -> list[str]:
    return [f"{summary.labels[i]} → {summary.predicted[i]} · {summary.confidence[i]:.0%}" for i in positions]


def metrics_rows(summary: InspectSummary) -> list[dict]:
    """One row per class for a table: precision, recall, F1, support."""
    m = summary.metrics
    return [{"class": c, "precision": float(m["precision"][c]), "recall": float(m["recall"][c]),
             "F1": float(m["f1"][c]), "support": int(m["support"][c])} for c in range(N_CLASSES)]


def weakest_note(summary: InspectSummary) -> str | None:
    """'Weakest class: 8 (F1 0.84): most often taken for 3 (12 of 200 8s).'"""
    weak = summary.weakest
    if weak is None:
        return None
    row = summary.matrix[weak].copy()
    row[weak] = 0
    note = f"Weakest class: **{weak}** (F1 {summary.metrics['f1'][weak]:.2f})"
    if row.max() == 0:
        return note + ", with no mistakes."
    taken_for = int(row.argmax())
    return note + (f": most often taken for **{taken_for}** ({row[taken_for]} of "
                   f"{summary.metrics['support'][weak]} {weak}s).")


@dataclass
class DigitDetail:
    probabilities: np.ndarray  # float32 (10,)
    predicted: int
    saliency: np.ndarray  # float32 (28, 28): d(logit of `predicted`) / d(pixel brightness)


def digit_detail(model: nn.Module, image: torch.Tensor) -> DigitDetail:
    """The model's probabilities for one uint8 (28, 28) digit and the saliency of its prediction."""
    probabilities = predict_probabilities(model, image.unsqueeze(0))[0]
    gradient, predicted = saliency(model, image)
    return DigitDetail(probabilities.numpy(), predicted, gradient.numpy())


def saliency_rgb(gradient: np.ndarray, scale: int) -> np.ndarray:
    """uint8 (28*s, 28*s, 3) on white: red where more ink raises the score, blue where it lowers it."""
    peak = float(np.abs(gradient).max()) or 1.0
    strength = gradient / peak  # -1..1
    fade = 1.0 - np.abs(strength)
    red = np.where(strength > 0, 1.0, fade)
    blue = np.where(strength < 0, 1.0, fade)
    rgb = np.stack([red, fade, blue], axis=-1)  # (28, 28, 3) on [0, 1]
    return upscale(np.uint8(rgb * 255 + 0.5).transpose(2, 0, 1), scale).transpose(1, 2, 0)
