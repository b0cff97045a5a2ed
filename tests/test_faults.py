"""Faults injected on purpose: killed workers, failing disks, concurrent writers, hostile files, OOM."""
import errno
import json
import os
import pickle
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.config import TrainConfig
from core.runner.execute import execute
from core.runner.launch import launch, launch_resume
from core.store import run_files
from core.store.run_store import RunStore, load_run_model
from tests.helpers_waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]


def test_sigkill_mid_epoch_marks_interrupted_keeps_metrics_and_resumes(tmp_path):
    store = RunStore(tmp_path)
    run_id = launch(store, TrainConfig(model="cnn", epochs=30, threads=1, log_every=1).validate())
    # Wait for one finished epoch (a checkpoint) and then some steps into the next one.
    wait_until(lambda: "val_accuracy" in store.metrics(run_id, ("val_accuracy",)))
    steps_per_epoch = 29
    wait_until(lambda: store.get(run_id).progress.get("step", 0) > steps_per_epoch + 3)
    os.kill(store.get(run_id).pid, signal.SIGKILL)

    run = wait_until(lambda: (r := store.get(run_id)) and not r.active and r)
    assert run.status == "interrupted" and "ended without reporting" in run.error
    loss = store.metrics(run_id)["loss"]["step"]
    assert loss == sorted(set(loss)) and loss[0] == 1 and len(loss) >= steps_per_epoch, "metrics intact"
    model, config = load_run_model(store, run_id)  # the last epoch's checkpoint loads
    assert config.model == "cnn"
    epochs_done = len(store.metrics(run_id)["val_accuracy"]["value"])
    child = launch_resume(store, run_id, epochs=epochs_done + 1)
    assert wait_until(lambda: (r := store.get(child)) and not r.active and r).status == "completed"


def test_a_failing_disk_ends_the_run_failed_with_the_reason_and_the_store_stays_sound(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=3).validate()
    run_id = store.create_run(config.to_dict())

    def full_disk(payload, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(run_files.torch, "save", full_disk)
    with pytest.raises(OSError):
        execute(store, run_id, config)
    run = store.get(run_id)
    assert run.status == "failed"
    assert "No space left on device" in run.error and "resume" in run.error
    assert not list(store.run_dir(run_id).glob("*.pt")), "no half-written checkpoint may be left"
    assert not list(store.run_dir(run_id).glob(".*tmp")), "no temporary file may be left"
    with sqlite3.connect(tmp_path / "digitlab.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    monkeypatch.undo()
    again = store.create_run(config.to_dict())
    execute(store, again, config)
    assert store.get(again).status == "completed"


def test_two_writers_and_several_readers_lose_nothing(tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=8, log_every=1).validate()
    ids = [launch(store, config) for _ in range(2)]
    errors, stop = [], threading.Event()

    def read():
        reader = RunStore(tmp_path)
        while not stop.is_set():
            try:
                for run in reader.list_runs():
                    reader.metrics(run.id, ("loss", "val_accuracy"))
            except Exception as exc:  # noqa: BLE001 - any error reaching a reader is the failure
                errors.append(repr(exc))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    wait_until(lambda: all(not store.get(i).active for i in ids), timeout_s=120)
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    for run_id in ids:
        run = store.get(run_id)
        assert run.status == "completed", store.log_tail(run_id)
        assert store.metrics(run_id)["loss"]["step"] == list(range(1, run.summary["steps"] + 1))


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {Exploit.marker}",))


def test_a_checkpoint_replaced_by_a_malicious_pickle_is_refused(tmp_path):
    store = RunStore(tmp_path)
    config = TrainConfig(epochs=1).validate()
    run_id = store.create_run(config.to_dict())
    execute(store, run_id, config)
    Exploit.marker = tmp_path / "pwned"
    (store.run_dir(run_id) / "last.pt").write_bytes(pickle.dumps({"model": Exploit()}))
    with pytest.raises(ValueError, match="refused: it is not a plain weights file"):
        load_run_model(store, run_id)
    assert not Exploit.marker.exists(), "the pickle's code must never run"


def test_out_of_memory_fails_cleanly_with_a_hint(tmp_path):
    cap = 4 * 2**30  # address space: room for torch, not for a 3,600-digit batch of a wide CNN

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    done = subprocess.run(
        [sys.executable, "-m", "core.train", "--model", "cnn", "--channels", "64,128", "--batch-size", "3600",
         "--epochs", "1", "--threads", "1", "--runs-dir", str(tmp_path)],
        cwd=ROOT, preexec_fn=limit, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "Out of memory" in done.stderr and "smaller batch size" in done.stderr
    [run] = RunStore(tmp_path).list_runs()
    assert run.status == "failed" and "smaller batch size" in run.error


def test_torch_compile_without_a_cpp_compiler_fails_cleanly_with_a_hint(tmp_path):
    env = {**os.environ, "CXX": str(tmp_path / "no-such-g++"),  # inductor's CPU backend finds no compiler
           "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}  # and no kernel compiled earlier to reuse
    done = subprocess.run(
        [sys.executable, "-m", "core.train", "--compile", "--epochs", "1", "--threads", "1",
         "--runs-dir", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    [run] = RunStore(tmp_path).list_runs()
    assert run.status == "failed"
    assert run.error.startswith("torch.compile failed") and "Train without compile" in run.error, run.error


def test_bad_hyperparameters_through_the_config_file_door_create_no_run(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"lr": "fast"}))
    done = subprocess.run([sys.executable, "-m", "core.train", "--config", str(tmp_path / "config.json"),
                           "--runs-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "lr must be a number" in done.stderr
    assert RunStore(tmp_path).list_runs() == []
