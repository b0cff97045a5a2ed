"""The callback that records a run in the store: metrics, progress, checkpoints, predictions."""
from __future__ import annotations

import os
import time

import torch

from core.store import run_files
from core.store.run_store import RunStore
from core.training.callbacks import Callback, EpochState, TrainResult

FLUSH_EVERY_S = 0.5  # metric rows are written in batches at most twice a second


class StoreReporter(Callback):
    """Buffers metrics and writes them, progress, checkpoints and predictions to the store."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self.rows: list[tuple[str, int, float, float]] = []
        self.progress: dict = {}
        self.last_flush = 0.0
        self.stop_file = store.stop_file(run_id)
        self.signalled = False
        self.predicted: list[torch.Tensor] = []
        self.confidence: list[torch.Tensor] = []
        self.epochs: list[int] = []

    def on_start(self, info: dict) -> None:
        self.store.update(self.run_id, status="running", device=info["device"], pid=os.getpid(),
                          progress={"epoch": 0, "step": info["start_step"], "total_steps": info["total_steps"]},
                          summary={k: info[k] for k in ("threads", "parameters", "train_samples", "sizes")})
        previous = self.store.load_tensors(self.run_id, run_files.PREDICTIONS)
        if previous is not None:  # a resumed run keeps the epochs it inherited
            self.epochs = list(previous["epochs"].tolist())
            self.predicted, self.confidence = list(previous["predicted"]), list(previous["confidence"])

    def on_log(self, step: int, epoch: float, values: dict[str, float], progress: dict) -> None:
        self.rows += [(name, step, epoch, value) for name, value in values.items()]
        self.progress = progress
        if time.monotonic() - self.last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        self.store.append_metrics(self.run_id, self.rows)
        self.rows = []
        self.store.update(self.run_id, progress=self.progress)
        self.last_flush = time.monotonic()

    def on_epoch_end(self, epoch: int, step: int, values: dict[str, float], state: EpochState) -> None:
        self.rows += [(name, step, float(epoch), value) for name, value in values.items()]
        self.flush()
        run_dir = self.store.run_dir(self.run_id)
        checkpoint = run_files.checkpoint_dict(state.model, state.optimizer, state.scheduler, state.generator,
                                               state.config, epoch, step, values.get("val_accuracy"), state.is_best)
        run_files.save_checkpoint(run_dir, checkpoint, state.is_best)
        self.epochs.append(epoch)
        self.predicted.append(state.test_predicted.to(torch.uint8))
        self.confidence.append(state.test_confidence.to(torch.float16))
        run_files.save_predictions(run_dir, self.epochs, self.predicted, self.confidence)

    def on_end(self, result: TrainResult) -> None:
        self.flush()

    def should_stop(self) -> bool:
        return self.signalled or self.stop_file.exists()
