"""Resume continues exactly where a run stopped; replay on CPU reproduces it bit for bit."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.config import TrainConfig
from core.results.compare import replay_matches
from core.runner.execute import execute
from core.runner.launch import launch_replay, launch_resume, load_resume
from core.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def wait(store: RunStore, run_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while store.get(run_id).active and time.monotonic() < deadline:
        time.sleep(0.2)
    return store.get(run_id).status


def series(store, run_id, name):
    return dict(zip(store.metrics(run_id)[name]["step"], store.metrics(run_id)[name]["value"]))


def test_resumed_run_continues_with_the_same_weights_optimizer_and_data_order(tmp_path):
    store = RunStore(tmp_path)
    straight = TrainConfig(epochs=4, log_every=1, seed=5).validate()
    straight_id = store.create_run(straight.to_dict())
    execute(store, straight_id, straight)

    half = TrainConfig(epochs=2, log_every=1, seed=5).validate()
    parent_id = store.create_run(half.to_dict())
    execute(store, parent_id, half)
    child_id = launch_resume(store, parent_id, epochs=4)
    assert wait(store, child_id) == "completed", store.log_tail(child_id)

    child = store.get(child_id)
    assert child.parent_id == parent_id and child.origin == "resume"
    expected, got = series(store, straight_id, "loss"), series(store, child_id, "loss")
    first_resumed_step = max(series(store, parent_id, "loss")) + 1
    assert got[first_resumed_step] == expected[first_resumed_step], "loss right after resuming must match"
    assert got == expected, "the resumed run's whole curve (inherited + new) equals the uninterrupted run's"
    assert child.summary["epochs_completed"] == 4
    assert child.summary["test_accuracy"] == pytest.approx(store.get(straight_id).summary["test_accuracy"])


def test_resume_needs_more_epochs_and_a_checkpoint(tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=2).validate()
    run_id = store.create_run(config.to_dict())
    with pytest.raises(ValueError, match="no checkpoint yet"):
        launch_resume(store, run_id, epochs=4)
    execute(store, run_id, config)
    with pytest.raises(ValueError, match="epochs must be more than the 2 epochs"):
        launch_resume(store, run_id, epochs=2)


def test_cli_resume_flag(tmp_path):
    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "core.train", "--runs-dir", str(tmp_path), "--json", *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    parent = cli("--epochs", "1")
    child = cli("--resume", parent["run_id"], "--epochs", "3")
    assert child["epochs_completed"] == 3
    run = RunStore(tmp_path).get(child["run_id"])
    assert run.parent_id == parent["run_id"] and run.origin == "resume"


def test_replay_on_cpu_reproduces_every_metric_exactly(tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(model="cnn", epochs=2, log_every=2, seed=11, augment=True).validate()
    original = store.create_run(config.to_dict())
    execute(store, original, config)
    replay = launch_replay(store, original)
    assert wait(store, replay) == "completed", store.log_tail(replay)
    report = replay_matches(store, original, replay)
    assert report["identical"], report
    assert {"loss", "val_accuracy", "train_loss"} <= set(report["series"])
    assert store.get(replay).origin == "replay" and load_resume(store, store.get(replay)) is None


def test_replay_report_finds_a_difference(tmp_path):
    store = RunStore(tmp_path)
    a, b = (TrainConfig(epochs=1, seed=s).validate() for s in (1, 2))
    ids = [store.create_run(c.to_dict()) for c in (a, b)]
    for run_id, config in zip(ids, (a, b)):
        execute(store, run_id, config)
    report = replay_matches(store, *ids)
    assert not report["identical"] and "loss" in report["differing"] and report["max_abs_difference"] > 0
