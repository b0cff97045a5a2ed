"""The callback that records a run in the store: metrics, progress, checkpoints, predictions."""
from __future__ import annotations

import os
import time

import torch

from core.files import BackgroundWriter
from core.store import run_files
from core.store.run_store import RunStore
from core.training.callbacks import Callback, EpochState, TrainResult

# Metric rows and progress are written in batches at most twice a second (and with every
# checkpoint): an epoch's end does not flush on its own, as a small MLP ends 40 epochs a second.
FLUSH_EVERY_S = 0.5
# A stat() per batch is ~1 % of a small MLP's epoch; a Stop takes effect within this many seconds.
STOP_CHECK_S = 0.05
# Checkpoints up to this size are copied and written behind the next epoch's training; a larger
# one is written in place at every epoch's end, so a big model never holds two copies of its
# weights and Adam state.
BACKGROUND_CHECKPOINT_BYTES = 64 * 1024 * 1024
# A copied checkpoint goes to disk at the first epoch's end, then at most this often, and at the
# run's end (completed, stopped or diverged); between writes the latest and the best epochs' copies
# wait in memory. An epoch of a small MLP on the embedded digits trains in ~25 ms and its
# checkpoint costs ~1.5 ms to write (6 %), while a process killed outright loses at most this
# long of training beyond its current epoch; epochs longer than this are each written.
CHECKPOINT_EVERY_S = 1.0


class StoreReporter(Callback):
    """Buffers metrics and writes them, progress, checkpoints and predictions to the store."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self.rows: list[tuple[str, int, float, float]] = []
        self.progress: dict = {}
        self.last_flush = 0.0
        self.stop_file = store.stop_file(run_id)
        self.signalled = False
        self.stop_checked = 0.0
        self.run_dir = store.run_dir(run_id)
        self.append_metrics = store.metrics_appender(run_id)  # one connection, opened in on_start's thread
        self.predictions = run_files.PredictionsLog(self.run_dir)  # one open file
        # Checkpoints of epochs not yet on disk (see CHECKPOINT_EVERY_S); best may be an earlier epoch's.
        self.pending_last: dict | None = None
        self.pending_best: dict | None = None
        self.written_at: float | None = None
        self.writer = BackgroundWriter()  # checkpoints

    def on_start(self, info: dict) -> None:
        self.store.update(self.run_id, status="running", device=info["device"], pid=os.getpid(),
                          progress={"epoch": 0, "step": info["start_step"], "total_steps": info["total_steps"]},
                          summary={k: info[k] for k in ("threads", "parameters", "train_samples", "sizes")})
        self.append_metrics.open()  # before the first step, not at the first flush within the epochs

    def on_log(self, step: int, epoch: float, values: dict[str, float], progress: dict) -> None:
        self.rows += [(name, step, epoch, value) for name, value in values.items()]
        self.progress = progress
        if time.monotonic() - self.last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        rows, progress = self.rows, self.progress
        self.writer.check()
        self.append_metrics(rows, progress)  # inline: ~0.05 ms, less than waking the writer thread costs
        self.rows = []
        self.last_flush = time.monotonic()

    def on_epoch_end(self, epoch: int, step: int, values: dict[str, float], state: EpochState) -> None:
        self.rows += [(name, step, float(epoch), value) for name, value in values.items()]
        if time.monotonic() - self.last_flush >= FLUSH_EVERY_S:
            self.flush()
        run_dir = self.run_dir
        checkpoint = run_files.checkpoint_dict(state.model, state.optimizer, state.scheduler, state.generator,
                                               state.config, epoch, step, values.get("val_accuracy"), state.is_best)
        if checkpoint_bytes(checkpoint) <= BACKGROUND_CHECKPOINT_BYTES:
            checkpoint = cloned(checkpoint)  # the state dicts hold live tensors the next epoch updates in place
            if state.is_best:
                self.pending_best = checkpoint
            if (self.written_at is None or time.monotonic() - self.written_at >= CHECKPOINT_EVERY_S
                    or epoch == state.config.epochs):  # the last: written beside the other callbacks' epoch end
                self.write_checkpoints(checkpoint)
            else:
                self.pending_last = checkpoint
        else:
            self.flush()  # as write_checkpoints does: the metrics on disk reach the checkpoint's epoch
            self.writer.drain()
            run_files.save_checkpoint(run_dir, checkpoint, state.is_best)
        # Appended, inline: a resumed run's file already holds its parent's epochs (copied at launch).
        self.predictions.append(epoch, state.test_predicted, state.test_confidence)

    def write_checkpoints(self, last: dict) -> None:
        """Queue ``last`` as last.pt, and best.pt: a link to it if it is the best, else the best one still unwritten."""
        best, run_dir = self.pending_best, self.run_dir
        self.pending_last, self.pending_best, self.written_at = None, None, time.monotonic()
        self.flush()  # the metrics on disk always reach the checkpoint's epoch: a resume counts on it
        self.writer.submit(lambda: run_files.save_checkpoint(run_dir, last, is_best=best is last))
        if best is not None and best is not last:
            self.writer.submit(lambda: run_files.save_best(run_dir, best))

    def on_end(self, result: TrainResult) -> None:
        if self.pending_last is not None:  # completed, stopped or diverged: the last whole epoch's state
            self.write_checkpoints(self.pending_last)
        self.flush()
        self.predictions.close()
        self.writer.close()  # the run is reported finished only once all it wrote is on disk

    def close(self) -> None:
        """Let go of the store connection: after the run's status is final, as closing it costs 1-3 ms
        while that status write, with this connection still open, costs ~0.2 ms."""
        self.append_metrics.close()

    def should_stop(self) -> bool:
        """Asked after every batch; the STOP file is looked for at most every STOP_CHECK_S."""
        self.writer.check()
        if self.signalled:
            return True
        now = time.monotonic()
        if now - self.stop_checked < STOP_CHECK_S:
            return False
        self.stop_checked = now
        return self.stop_file.exists()


def cloned(value):
    """A copy of nested dicts/lists/tuples whose tensors are cloned (~0.1 ms for the guide's MLP + Adam)."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {key: cloned(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(cloned(item) for item in value)
    return value


def checkpoint_bytes(checkpoint: dict) -> int:
    """Bytes of the tensors in the checkpoint's model and optimizer state."""
    tensors = [*checkpoint["model"].values(),
               *(value for state in checkpoint["optimizer"]["state"].values() for value in state.values())]
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))
