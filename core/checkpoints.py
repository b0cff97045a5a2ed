"""Loading a run's trained model back, with a clear message for every way that can fail."""
from __future__ import annotations

import pickle

import torch
from torch import nn

from core.models import build_model
from core.runs import RunStore
from core.train import TrainConfig

CHECKPOINTS = {"last": "last.pt", "best": "best.pt"}


def load_checkpoint(store: RunStore, run_id: str, which: str = "last") -> dict:
    """The checkpoint dict of a run; ``weights_only`` loading refuses anything but tensors and plain data."""
    if which not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {sorted(CHECKPOINTS)}, got {which!r}")
    if store.get(run_id) is None:
        raise ValueError(f"Run {run_id} does not exist (deleted?). Pick another run.")
    try:
        checkpoint = store.load_tensors(run_id, CHECKPOINTS[which])
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
    model = build_model(config.model, config.hidden, config.channels, config.activation, config.dropout)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"The checkpoint's weights do not fit a {config.model} with hidden={list(config.hidden)}"
                         f" ({first}). It was saved from another model shape.") from None
    return model.eval(), config


def load_run_model(store: RunStore, run_id: str, which: str = "last") -> tuple[nn.Module, TrainConfig]:
    return model_from_checkpoint(load_checkpoint(store, run_id, which))
