"""The warm worker: runs forked from a process with torch imported behave like any worker."""
import os
import signal
import time

import pytest
import torch

from core.config import TrainConfig
from core.runner.execute import execute
from core.runner.launch import launch
from core.runner.warm import WarmWorker
from core.store import run_files
from core.store.run_store import FINISHED, RunStore, load_checkpoint
from tests.helpers_waiting import wait_until


@pytest.fixture(scope="module")
def warm():
    worker = WarmWorker()
    assert worker.wait_ready()
    yield worker
    worker.close()


def test_a_forked_run_trains_records_and_is_its_own_process(warm, tmp_path):
    store = RunStore(tmp_path)
    run_id = launch(store, TrainConfig(epochs=2, threads=1).validate(), warm=warm)
    run = store.get(run_id)
    assert run.pid not in (os.getpid(), warm.process.pid)  # a child of the warm server, not the server
    wait_until(lambda: store.get(run_id).status in FINISHED)
    run = store.get(run_id)
    assert run.status == "completed", store.log_tail(run_id)
    assert run.summary["epochs_completed"] == 2 and run.summary["test_accuracy"] > 0.8
    assert load_checkpoint(store, run_id)["epoch"] == 2
    assert (store.run_dir(run_id) / run_files.WORKER_LOG).exists()


def test_a_forked_run_gives_the_same_numbers_as_one_trained_in_process(warm, tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=2, threads=1, seed=4).validate()
    forked = launch(store, config, warm=warm)
    local = store.create_run(config.to_dict())
    execute(store, local, config)
    wait_until(lambda: store.get(forked).status in FINISHED)
    assert store.metrics(forked, ("loss", "val_accuracy")) == store.metrics(local, ("loss", "val_accuracy"))


def test_sigkill_of_a_forked_run_marks_it_interrupted_and_spares_the_server(warm, tmp_path):
    store = RunStore(tmp_path)
    run_id = launch(store, TrainConfig(epochs=200, threads=1).validate(), warm=warm)
    wait_until(lambda: store.metrics(run_id, ("loss",)))
    os.kill(store.get(run_id).pid, signal.SIGKILL)
    assert wait_until(lambda: store.get(run_id).status in FINISHED) and store.get(run_id).status == "interrupted"
    assert warm.process.poll() is None  # the next run is still served warm
    again = launch(store, TrainConfig(epochs=1, threads=1).validate(), warm=warm)
    wait_until(lambda: store.get(again).status in FINISHED)
    assert store.get(again).status == "completed"


def test_stop_ends_a_forked_run_stopped(warm, tmp_path):
    store = RunStore(tmp_path)
    run_id = launch(store, TrainConfig(epochs=200, threads=1).validate(), warm=warm)
    wait_until(lambda: store.metrics(run_id, ("loss",)))
    store.request_stop(run_id)
    wait_until(lambda: store.get(run_id).status in FINISHED)
    assert store.get(run_id).status == "stopped"


def test_a_server_started_before_the_digits_were_ever_cached_serves_runs(tmp_path, monkeypatch):
    # Parsing the digits the first time brings in pandas' threads; a server that had them forked
    # children that hung at their first parallel tensor operation.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh-cache"))
    fresh = WarmWorker()
    try:
        assert fresh.wait_ready()
        store = RunStore(tmp_path / "runs")
        run_id = launch(store, TrainConfig(epochs=1, threads=1).validate(), warm=fresh)
        wait_until(lambda: store.get(run_id).status in FINISHED, timeout_s=90)
        assert store.get(run_id).status == "completed", store.log_tail(run_id)
    finally:
        fresh.close()


def test_runs_start_cold_while_the_server_is_warming_up(tmp_path):
    warming = WarmWorker()
    try:
        store = RunStore(tmp_path)
        started = time.monotonic()
        run_id = launch(store, TrainConfig(epochs=1, threads=1).validate(), warm=warming)
        assert time.monotonic() - started < 2  # no waiting for torch to import in the server
        assert store.get(run_id).pid != warming.process.pid
        wait_until(lambda: store.get(run_id).status in FINISHED)
        assert store.get(run_id).status == "completed", store.log_tail(run_id)
    finally:
        warming.close()


def test_without_a_server_launch_starts_the_worker_cold(tmp_path):
    gone = WarmWorker()
    gone.close()
    store = RunStore(tmp_path)
    run_id = launch(store, TrainConfig(epochs=1, threads=1).validate(), warm=gone)
    assert gone.start(run_id, tmp_path) is None
    wait_until(lambda: store.get(run_id).status in FINISHED)
    assert store.get(run_id).status == "completed", store.log_tail(run_id)


def test_best_checkpoint_keeps_its_epoch_when_a_later_one_is_worse(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    model = torch.nn.Linear(2, 2)
    for epoch, is_best in ((1, True), (2, False)):
        with torch.no_grad():
            model.weight.fill_(epoch)
        checkpoint = {"model": model.state_dict(), "config": {}, "epoch": epoch}
        run_files.save_checkpoint(run_dir, checkpoint, is_best)
    assert run_files.load_tensors(run_dir / run_files.BEST)["epoch"] == 1
    assert run_files.load_tensors(run_dir / run_files.LAST)["epoch"] == 2
    assert float(run_files.load_tensors(run_dir / run_files.BEST)["model"]["weight"][0, 0]) == 1.0
    assert sorted(path.name for path in run_dir.iterdir()) == [run_files.BEST, run_files.LAST]  # no temporaries
