"""Checkpoints of fast epochs: the first at once, then at most once a second, and always the run's end.

best.pt must still hold the best epoch's weights when that epoch was never written at its own end,
and a resumed run must continue its parent's curves from the checkpoint, not from where the
parent's metrics happen to stop.
"""
import sqlite3

import pytest
import torch

from core.config import TrainConfig
from core.runner import reporter
from core.runner.execute import execute
from core.runner.launch import launch_resume
from core.store import run_files
from core.store.run_store import DB_NAME, RunStore, load_predictions
from core.training.callbacks import Callback, EpochState, TrainResult
from tests.helpers_waiting import wait_until

CONFIG = TrainConfig(epochs=4, threads=1).validate()
LONG = TrainConfig(epochs=10, threads=1).validate()  # the epochs fed below never reach its last


def epoch_end(store_reporter: reporter.StoreReporter, epoch: int, val_accuracy: float, is_best: bool,
              config: TrainConfig = LONG) -> None:
    """One epoch's end as the loop reports it, with every weight equal to the epoch number."""
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.fill_(epoch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    state = EpochState(model, optimizer, None, torch.Generator(), config, torch.zeros(5, dtype=torch.long),
                       torch.ones(5), is_best)
    store_reporter.on_epoch_end(epoch, epoch * 10, {"val_accuracy": val_accuracy}, state)


def ended(status: str, epochs: int) -> TrainResult:
    return TrainResult(status=status, epochs_completed=epochs, train_samples=3600, val_accuracy=None,
                       best_val_accuracy=None, test_accuracy=None, seconds=1.0, steps=epochs * 10, threads=1,
                       device="cpu", parameters=6)


def written(run_dir, name: str) -> tuple[int, float] | None:
    """(epoch, a weight) of a checkpoint on disk, once the writer thread has written it."""
    path = run_dir / name
    if not path.exists():
        return None
    checkpoint = run_files.load_tensors(path)
    return checkpoint["epoch"], float(checkpoint["model"]["weight"][0, 0])


def test_fast_epochs_write_the_first_then_the_last_and_the_best_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(reporter, "CHECKPOINT_EVERY_S", 3600.0)  # no second write before the end
    monkeypatch.setattr(reporter, "FLUSH_EVERY_S", 3600.0)  # metric rows only with a checkpoint, and at the end
    store = RunStore(tmp_path)
    run_id = store.create_run(CONFIG.to_dict())
    run_dir = store.run_dir(run_id)
    recorder = reporter.StoreReporter(store, run_id)
    for epoch, accuracy, is_best in ((1, 0.5, True), (2, 0.9, True), (3, 0.7, False), (4, 0.6, False)):
        epoch_end(recorder, epoch, accuracy, is_best)
        recorder.writer.drain()
        assert written(run_dir, run_files.LAST) == (1, 1.0), "until the end, the first epoch's checkpoint"
        # The metrics on disk reach the checkpoint's epoch, so a resume from it never asks for fewer epochs.
        assert store.metrics(run_id, ("val_accuracy",))["val_accuracy"]["epoch"] == [1.0]
    recorder.on_end(ended("stopped", 4))
    assert store.metrics(run_id, ("val_accuracy",))["val_accuracy"]["epoch"] == [1.0, 2.0, 3.0, 4.0]
    assert written(run_dir, run_files.LAST) == (4, 4.0)
    assert written(run_dir, run_files.BEST) == (2, 2.0), "the best epoch's weights, never written at its end"
    assert run_files.load_tensors(run_dir / run_files.BEST)["best_val_accuracy"] == 0.9
    assert load_predictions(store, run_id)["epochs"].tolist() == [1, 2, 3, 4], "predictions: every epoch"


def test_slow_epochs_are_each_written(tmp_path, monkeypatch):
    monkeypatch.setattr(reporter, "CHECKPOINT_EVERY_S", 0.0)  # as if each epoch took longer than the interval
    store = RunStore(tmp_path)
    run_id = store.create_run(CONFIG.to_dict())
    run_dir = store.run_dir(run_id)
    recorder = reporter.StoreReporter(store, run_id)
    for epoch, accuracy, is_best in ((1, 0.5, True), (2, 0.9, True), (3, 0.7, False)):
        epoch_end(recorder, epoch, accuracy, is_best)
        recorder.writer.drain()
        assert written(run_dir, run_files.LAST) == (epoch, float(epoch))
        assert written(run_dir, run_files.BEST) == ((epoch, float(epoch)) if is_best else (2, 2.0))
    recorder.on_end(ended("completed", 3))


def test_the_last_epoch_of_a_run_is_written_at_its_own_end(tmp_path, monkeypatch):
    monkeypatch.setattr(reporter, "CHECKPOINT_EVERY_S", 3600.0)
    store = RunStore(tmp_path)
    run_id = store.create_run(CONFIG.to_dict())
    run_dir = store.run_dir(run_id)
    recorder = reporter.StoreReporter(store, run_id)
    for epoch, accuracy, is_best in ((1, 0.5, True), (2, 0.9, True), (3, 0.7, False), (4, 0.8, False)):
        epoch_end(recorder, epoch, accuracy, is_best, CONFIG)
    recorder.writer.drain()  # before on_end: its writes start beside the other callbacks' epoch end
    assert written(run_dir, run_files.LAST) == (4, 4.0)
    assert written(run_dir, run_files.BEST) == (2, 2.0)
    recorder.on_end(ended("completed", 4))
    assert written(run_dir, run_files.LAST) == (4, 4.0)


class CrashAfter(Callback):
    """The process dies after ``epoch``'s end, with no chance to write what is pending."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, epoch, step, values, state) -> None:
        if epoch == self.epoch:
            raise RuntimeError("the machine went away")


def test_a_resumed_run_continues_from_the_checkpoint_not_from_the_parents_last_metrics(tmp_path, monkeypatch):
    # Metric rows are flushed every half second and checkpoints written every second: a killed
    # parent's metrics can run ahead of its checkpoint. Here, as far as they can.
    monkeypatch.setattr(reporter, "CHECKPOINT_EVERY_S", 3600.0)
    monkeypatch.setattr(reporter, "FLUSH_EVERY_S", 0.0)
    store = RunStore(tmp_path)
    parent = store.create_run(CONFIG.to_dict())
    with pytest.raises(RuntimeError):
        execute(store, parent, CONFIG, callbacks=(CrashAfter(3),))
    assert run_files.load_tensors(store.run_dir(parent) / run_files.LAST)["epoch"] == 1
    assert store.metrics(parent, ("val_accuracy",))["val_accuracy"]["epoch"] == [1.0, 2.0, 3.0]
    assert load_predictions(store, parent)["epochs"].tolist() == [1, 2, 3]

    child = launch_resume(store, parent, epochs=4)
    assert wait_until(lambda: (run := store.get(child)) and not run.active and run).status == "completed"
    # Epochs 2 and 3 were trained again from epoch 1's checkpoint: each is stored once, the child's own
    # (metrics() would average rows of one step, so the rows are counted in the database itself).
    with sqlite3.connect(store.root / DB_NAME) as db:
        epochs = [row[0] for row in db.execute(
            "SELECT epoch FROM metrics WHERE run_id = ? AND name = 'val_accuracy' ORDER BY step", (child,))]
        steps = [row[0] for row in db.execute(
            "SELECT step FROM metrics WHERE run_id = ? AND name = 'loss' ORDER BY step", (child,))]
    assert epochs == [1.0, 2.0, 3.0, 4.0]
    assert steps == sorted(set(steps)), "no step drawn twice"
    assert load_predictions(store, child)["epochs"].tolist() == [1, 2, 3, 4]
