"""Which test digits flipped between two runs, or between two epochs of one run: right in the first and wrong
in the second ("lost"), and the reverse ("gained").

Two accuracies can be equal while hundreds of digits flip both ways; the counts say how stable a
model's answers are, not only how many are right.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.results.inspection import dataset_source, run_dataset
from core.store.run_store import RunStore, load_predictions


@dataclass
class Flips:
    """Test digits by position in the test split; predictions and confidences of both sides."""

    labels: np.ndarray  # int64 (n,)
    first: np.ndarray  # int64 (n,): the first side's predicted class
    second: np.ndarray  # int64 (n,)
    first_confidence: np.ndarray  # float32 (n,)
    second_confidence: np.ndarray  # float32 (n,)
    lost: np.ndarray  # positions right in the first, wrong in the second, most confident second answer first
    gained: np.ndarray  # positions wrong in the first, right in the second, most confident first answer first
    both_wrong: int
    both_right: int

    @property
    def first_accuracy(self) -> float:
        return float((self.first == self.labels).mean()) if len(self.labels) else 0.0

    @property
    def second_accuracy(self) -> float:
        return float((self.second == self.labels).mean()) if len(self.labels) else 0.0


def flip_sets(labels, first, second) -> tuple[np.ndarray, np.ndarray]:
    """(lost, gained) positions, ascending: right then wrong, and wrong then right."""
    labels, first, second = (np.asarray(a, dtype=np.int64) for a in (labels, first, second))
    if not labels.shape == first.shape == second.shape:
        raise ValueError(f"both sides must predict the same {labels.shape[0]} test digits, got "
                         f"{first.shape[0]} and {second.shape[0]}")
    right_first, right_second = first == labels, second == labels
    return np.nonzero(right_first & ~right_second)[0], np.nonzero(~right_first & right_second)[0]


def compare_predictions(labels, first, second, first_confidence, second_confidence) -> Flips:
    labels, first, second = (np.asarray(a, dtype=np.int64) for a in (labels, first, second))
    first_confidence, second_confidence = (np.asarray(a, dtype=np.float32)
                                           for a in (first_confidence, second_confidence))
    lost, gained = flip_sets(labels, first, second)
    # The surest wrong answers first: the flips most worth a look
    lost = lost[np.argsort(-second_confidence[lost], kind="stable")]
    gained = gained[np.argsort(-first_confidence[gained], kind="stable")]
    right_first, right_second = first == labels, second == labels
    return Flips(labels, first, second, first_confidence, second_confidence, lost, gained,
                 both_wrong=int((~right_first & ~right_second).sum()),
                 both_right=int((right_first & right_second).sum()))


def _epoch_row(predictions: dict, epoch: int | None, run_id: str) -> int:
    epochs = [int(e) for e in predictions["epochs"].tolist()]
    if not epochs:
        raise ValueError(f"run {run_id} has no recorded epoch yet: wait for its first epoch to end")
    if epoch is None:
        return len(epochs) - 1
    if epoch not in epochs:
        raise ValueError(f"run {run_id} recorded predictions after epochs {epochs}, not after epoch {epoch}")
    return epochs.index(epoch)


def run_flips(store: RunStore, first_id: str, second_id: str, first_epoch: int | None = None,
              second_epoch: int | None = None, labels: torch.Tensor | None = None) -> Flips:
    """Flips between two runs (or two epochs of one run: the same id twice); default epochs are the latest.

    ``labels`` (the test split's labels) saves loading the dataset; both runs must have used the same one.
    """
    runs = [store.get(first_id), store.get(second_id)]
    for run_id, run in zip((first_id, second_id), runs):
        if run is None:
            raise ValueError(f"Run {run_id} does not exist (deleted?). Pick another run.")
    # The test split depends on the dataset alone (never on the validation fraction or the seed).
    if dataset_source(runs[0].config)[0] != dataset_source(runs[1].config)[0]:
        raise ValueError(f"the runs were tested on different digits ({runs[0].dataset} vs {runs[1].dataset}): "
                         "flips only make sense on the same test digits; pick two runs of one dataset")
    first, second = load_predictions(store, first_id), load_predictions(store, second_id)
    rows = _epoch_row(first, first_epoch, first_id), _epoch_row(second, second_epoch, second_id)
    labels = labels if labels is not None else run_dataset(store, first_id).split("test")[1]
    if first["predicted"].shape[1] != len(labels) or second["predicted"].shape[1] != len(labels):
        raise ValueError("the predictions do not cover this dataset's test digits: the dataset changed since the "
                         "runs were trained")
    a, b = (side[row] for side, row in ((first["predicted"], rows[0]), (second["predicted"], rows[1])))
    return compare_predictions(labels.numpy(), a.numpy(), b.numpy(), first["confidence"][rows[0]].float().numpy(),
                               second["confidence"][rows[1]].float().numpy())
