"""The run folder's files and the checkpoint format: every name, and saving and loading side by side.

One folder per run, inside the store's root::

    config.json      the validated TrainConfig, as saved
    last.pt          checkpoint after the latest epoch written (see ``checkpoint_dict``; a worker
                     writes the first epoch's, then at most once a second, and the last epoch's)
    best.pt          checkpoint of the best validation accuracy
    predictions.bin  test-set predicted class and confidence, one record appended per epoch
                     (runs written before it have predictions.pt, the whole history in one file)
    inside.pt        per-layer histograms, norms, dead units, 2-D map, first-layer images per epoch
                     (its layout has its own owner, core/inside/storage.py, a layer above this one)
    STOP             present when a stop was requested
    worker.log       stdout/stderr of a worker started by the dashboard

Tensor files are loaded with ``weights_only=True``: only tensors and plain data, never code.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.config import TrainConfig, model_from_config
from core.files import write_atomic

CONFIG = "config.json"
LAST, BEST = "last.pt", "best.pt"
CHECKPOINTS = {"last": LAST, "best": BEST}
PREDICTIONS = "predictions.bin"
LEGACY_PREDICTIONS = "predictions.pt"
STOP = "STOP"
WORKER_LOG = "worker.log"


def write_config(run_dir: Path, config: dict) -> None:
    write_atomic(run_dir / CONFIG, lambda path: path.write_text(json.dumps(config, indent=2)))


def save_tensors(path: Path, payload: dict) -> None:
    # Serialized in memory, then written by Python's file write, which lets other threads run
    # during the copy to the page cache (~0.5 ms for the guide's MLP with Adam); torch.save to a
    # path would hold the GIL throughout, stalling a training thread it runs beside.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, lambda temporary: temporary.write_bytes(buffer.getbuffer()))


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


def save_best(run_dir: Path, checkpoint: dict) -> None:
    """best.pt alone: the best epoch was not the latest one written to last.pt."""
    save_tensors(run_dir / BEST, checkpoint)


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
#
# predictions.bin is appended to, one record per epoch, so an epoch's write costs the same at
# epoch 200 as at epoch 1 (rewriting the whole history grew to ~1.5 ms an epoch by then):
#
#   header  b"DLPRED01", uint32 n (test digits)                                12 bytes
#   record  int32 epoch, uint8 predicted class (n,), float16 confidence (n,)   4 + 3n bytes
#
# little-endian throughout. A record is one write() at the end of the file, so a reader sees
# whole records and perhaps part of the last one, which it ignores; the next append (or a crash
# before it) never leaves more than that part, and an append first cuts it off.

PREDICTIONS_MAGIC = b"DLPRED01"
_HEADER = struct.Struct("<8sI")


def _record_bytes(digits: int) -> int:
    return 4 + 3 * digits


def _record(epoch: int, predicted: torch.Tensor, confidence: torch.Tensor) -> bytes:
    return (struct.pack("<i", int(epoch)) + predicted.to(torch.uint8).numpy().tobytes()
            + confidence.to(torch.float16).numpy().astype("<f2").tobytes())


class PredictionsLog:
    """A run's predictions.bin kept open while it trains: each epoch's record is one write().

    The first append checks the header of a file already there (a resumed run's copy of its
    parent's) and cuts off a record a crash left partly written, so records stay aligned.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / PREDICTIONS
        self.file = None

    def append(self, epoch: int, predicted: torch.Tensor, confidence: torch.Tensor) -> None:
        """Add one epoch's test predictions: class (n,) and confidence (n,)."""
        digits, record = len(predicted), _record(epoch, predicted, confidence)
        if self.file is None:
            self.file = open(self.path, "a+b")  # O_APPEND: every write lands at the end
            size = self.file.seek(0, os.SEEK_END)
            if size == 0:
                record = _HEADER.pack(PREDICTIONS_MAGIC, digits) + record
            else:
                header = os.pread(self.file.fileno(), _HEADER.size, 0)
                if len(header) < _HEADER.size or _HEADER.unpack(header) != (PREDICTIONS_MAGIC, digits):
                    self.close()
                    raise ValueError(f"{self.path} does not hold predictions for {digits} test digits: "
                                     "not this run's file.")
                partial = (size - _HEADER.size) % _record_bytes(digits)
                if partial:  # a write cut short by a crash
                    self.file.truncate(size - partial)
        self.file.write(record)
        self.file.flush()  # on disk (in the page cache) for readers now, not when the buffer fills

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def save_predictions(run_dir: Path, epochs: list[int], predicted: list[torch.Tensor],
                     confidence: list[torch.Tensor]) -> None:
    """A whole history at once, atomically: ``predicted`` and ``confidence`` hold one (n,) row per epoch."""
    digits = len(predicted[0]) if len(predicted) else 0
    data = _HEADER.pack(PREDICTIONS_MAGIC, digits) + b"".join(
        _record(epoch, p, c) for epoch, p, c in zip(epochs, predicted, confidence, strict=True))
    write_atomic(Path(run_dir) / PREDICTIONS, lambda path: path.write_bytes(data))


def predictions_file(run_dir: Path) -> Path:
    """The file a run's predictions are in: the appended log, or an older run's whole-history file."""
    log = Path(run_dir) / PREDICTIONS
    legacy = Path(run_dir) / LEGACY_PREDICTIONS
    return legacy if not log.exists() and legacy.exists() else log


def _parse_predictions(data: bytes, run_id: str) -> dict[str, torch.Tensor]:
    if len(data) < _HEADER.size or data[:8] != PREDICTIONS_MAGIC:
        raise ValueError(f"Run {run_id}'s {PREDICTIONS} does not start as a Digit Lab predictions file does: "
                         "it is damaged or not one.")
    digits = _HEADER.unpack_from(data)[1]
    count = (len(data) - _HEADER.size) // _record_bytes(digits)
    rows = np.frombuffer(data, np.uint8, count * _record_bytes(digits), _HEADER.size).reshape(count, -1)
    return {"epochs": torch.from_numpy(rows[:, :4].copy().view("<i4").reshape(count).astype(np.int64)),
            "predicted": torch.from_numpy(rows[:, 4:4 + digits].copy()),
            "confidence": torch.from_numpy(rows[:, 4 + digits:].copy().view("<f2").astype(np.float16))}


def read_predictions(run_dir: Path) -> dict[str, torch.Tensor]:
    """A run's per-epoch test predictions: epochs (E,), predicted uint8 (E, n), confidence float16 (E, n)."""
    run_id, path = Path(run_dir).name, predictions_file(run_dir)
    try:
        if path.name == PREDICTIONS:
            data = path.read_bytes() if path.exists() else b""
            payload = _parse_predictions(data, run_id) if data else None  # empty: created, first record not in yet
        else:
            payload = load_tensors(path)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"Run {run_id}'s {path.name} could not be read ({type(exc).__name__}): "
                         "it is damaged or not a Digit Lab predictions file.") from None
    if payload is None:
        raise ValueError(f"Run {run_id} has no test predictions yet: they are written at the end of each epoch. "
                         "Wait for its first epoch, or pick another run.")
    if not isinstance(payload, dict) or {"epochs", "predicted", "confidence"} - set(payload):
        raise ValueError(f"Run {run_id}'s {path.name} lacks epochs/predicted/confidence: not a Digit Lab file.")
    return payload


def copy_predictions(source_dir: Path, target_dir: Path, until_epoch: int | None = None) -> None:
    """A resumed run starts with its parent's predictions up to ``until_epoch`` (all by default), as a
    log whatever the parent's format."""
    try:
        payload = read_predictions(source_dir)
    except ValueError:  # none yet, or unreadable: the resumed run records its own from here
        return
    kept = [row for row, epoch in enumerate(payload["epochs"].tolist()) if until_epoch is None or epoch <= until_epoch]
    save_predictions(target_dir, [int(payload["epochs"][row]) for row in kept],
                     [payload["predicted"][row] for row in kept], [payload["confidence"][row] for row in kept])
