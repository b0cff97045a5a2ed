"""How the loop reports: the callback hooks, and what it hands them at an epoch's end and at the end.

The loop knows nothing of stores or pages; :class:`core.runner.reporter.StoreReporter` is the
callback that writes to the run store, which the dashboard polls.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from core.config import TrainConfig


class Callback:
    """Hooks the loop calls; override what you need. ``should_stop`` is asked every batch."""

    def on_start(self, info: dict) -> None: ...

    def on_model(self, model: nn.Module) -> None:
        """The model about to train, with its starting weights (a resumed run's loaded); right after on_start."""

    def on_log(self, step: int, epoch: float, values: dict[str, float], progress: dict) -> None: ...

    def evaluating(self, split: str, model: nn.Module) -> contextlib.AbstractContextManager:
        """Entered around the loop's pass over ``split`` ("val", "test") at an epoch's end, before
        on_epoch_end: forward hooks attached to ``model`` within it see that pass's activations (eval
        mode, no gradients, the images in split order, in chunks)."""
        return contextlib.nullcontext()

    def on_epoch_end(self, epoch: int, step: int, values: dict[str, float], state: "EpochState") -> None: ...

    def on_end(self, result: "TrainResult") -> None: ...

    def should_stop(self) -> bool:
        return False


@dataclass
class EpochState:
    """What a callback needs at the end of an epoch to checkpoint and record predictions."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    generator: torch.Generator
    config: TrainConfig
    test_predicted: torch.Tensor  # int64 (n_test,)
    test_confidence: torch.Tensor  # float32 (n_test,)
    is_best: bool


@dataclass
class TrainResult:
    status: str  # completed, stopped, diverged
    epochs_completed: int
    train_samples: int
    val_accuracy: float | None
    best_val_accuracy: float | None
    test_accuracy: float | None
    seconds: float
    steps: int
    threads: int
    device: str
    parameters: int
    processes: int = 1  # torchrun processes that trained it together
    error: str = ""
    history: list[dict] = field(default_factory=list)  # per-epoch values

    def summary(self) -> dict:
        values = asdict(self)
        values.pop("history")
        return values
