"""The run folder's files and the checkpoint format: every name, and saving and loading side by side.

One folder per run, inside the store's root::

    config.json      the validated TrainConfig, as saved
    last.pt          checkpoint after the latest epoch (see ``checkpoint_dict``)
    best.pt          checkpoint of the best validation accuracy
    predictions.pt   test-set predicted class and confidence per epoch
    inside.pt        per-layer histograms, norms, dead units, 2-D map, first-layer images per epoch
                     (its layout has its own owner, core/inside/storage.py, a layer above this one)
    STOP             present when a stop was requested
    worker.log       stdout/stderr of a worker started by the dashboard

Tensor files are loaded with ``weights_only=True``: only tensors and plain data, never code.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import torch
from torch import nn

from core.config import TrainConfig, model_from_config
from core.files import write_atomic

CONFIG = "config.json"
LAST, BEST = "last.pt", "best.pt"
CHECKPOINTS = {"last": LAST, "best": BEST}
PREDICTIONS = "predictions.pt"
STOP = "STOP"
WORKER_LOG = "worker.log"


def write_config(run_dir: Path, config: dict) -> None:
    write_atomic(run_dir / CONFIG, lambda path: path.write_text(json.dumps(config, indent=2)))


def save_tensors(path: Path, payload: dict) -> None:
    write_atomic(path, lambda temporary: torch.save(payload, temporary))


def load_tensors(path: Path) -> dict | None:
    """A checkpoint or predictions file, or None if absent; ``weights_only`` refuses pickled code."""
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def log_tail(run_dir: Path, lines: int = 8) -> str:
    log = run_dir / WORKER_LOG
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").strip().splitlines()[-lines:])


# -- checkpoints --------------------------------------------------------------------------

def checkpoint_dict(model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None, generator: torch.Generator,
                    config: TrainConfig, epoch: int, step: int, val_accuracy: float | None, is_best: bool) -> dict:
    """Everything a run needs to continue exactly: weights, optimizer and schedule state, data order."""
    return {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "generator": generator.get_state(), "config": config.to_dict(),
        "epoch": epoch, "step": step, "val_accuracy": val_accuracy,
        "best_val_accuracy": val_accuracy if is_best else None,
    }


def save_checkpoint(run_dir: Path, checkpoint: dict, is_best: bool) -> None:
    save_tensors(run_dir / LAST, checkpoint)
    if is_best:
        # The same bytes: a hard link to what was just written costs ~20 us against ~1 ms of a
        # second torch.save. The next last.pt replaces its own directory entry, never this file.
        write_atomic(run_dir / BEST, lambda temporary: _link_or_copy(run_dir / LAST, temporary))


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink()  # write_atomic made it; a link needs the name free
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, target)


def read_checkpoint(run_dir: Path, which: str = "last") -> dict:
    """The checkpoint dict in a run folder, with a clear message for every way that can fail."""
    run_id = run_dir.name
    if which not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {sorted(CHECKPOINTS)}, got {which!r}")
    try:
        checkpoint = load_tensors(run_dir / CHECKPOINTS[which])
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"Run {run_id}'s {which} checkpoint was refused: it is not a plain weights file "
                         f"({type(exc).__name__}). Only tensors and plain data are loaded, never code.") from None
    if checkpoint is None:
        raise ValueError(f"Run {run_id} has no checkpoint yet: one is written at the end of each epoch.")
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "config" not in checkpoint:
        raise ValueError(f"Run {run_id}'s {which} checkpoint is not a Digit Lab checkpoint (no model/config).")
    return checkpoint


def model_from_checkpoint(checkpoint: dict) -> tuple[nn.Module, TrainConfig]:
    """Rebuild the model the checkpoint's config describes and load its weights (eval mode, CPU)."""
    config = TrainConfig.from_dict(checkpoint["config"]).validate()
    model = model_from_config(config)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"The checkpoint's weights do not fit a {config.model} with hidden={list(config.hidden)}"
                         f" ({first}). It was saved from another model shape.") from None
    return model.eval(), config


# -- per-epoch test predictions -------------------------------------------------------------

def save_predictions(run_dir: Path, epochs: list[int], predicted: list[torch.Tensor],
                     confidence: list[torch.Tensor]) -> None:
    """Compactly: class as uint8 (E, n), confidence as float16 (E, n), one row per recorded epoch."""
    save_tensors(run_dir / PREDICTIONS, {
        "epochs": torch.tensor(epochs), "predicted": torch.stack([p.to(torch.uint8) for p in predicted]),
        "confidence": torch.stack([c.to(torch.float16) for c in confidence]),
    })


def read_predictions(run_dir: Path) -> dict[str, torch.Tensor]:
    """A run's per-epoch test predictions: epochs (E,), predicted (E, n), confidence (E, n)."""
    run_id = run_dir.name
    try:
        payload = load_tensors(run_dir / PREDICTIONS)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"Run {run_id}'s {PREDICTIONS} could not be read ({type(exc).__name__}): "
                         "it is damaged or not a Digit Lab predictions file.") from None
    if payload is None:
        raise ValueError(f"Run {run_id} has no test predictions yet: they are written at the end of each epoch. "
                         "Wait for its first epoch, or pick another run.")
    if not isinstance(payload, dict) or {"epochs", "predicted", "confidence"} - set(payload):
        raise ValueError(f"Run {run_id}'s {PREDICTIONS} lacks epochs/predicted/confidence: not a Digit Lab file.")
    return payload
