"""The sweep scheduler: the cap on runs training at once always holds, a sweep stops as a whole, and a sweep
whose scheduler is SIGKILLed resumes and completes. `python -m core.sweep`: its --json contract and bad input."""
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.config import TrainConfig
from core.results.sweep_summary import summarize
from core.runner.launch import start_worker
from core.store.run_store import RunStore, _process_alive
from core.store.sweep_store import SweepStore, sweep_tag
from core.sweep.control import create_sweep, resume_sweep, start_scheduler, stop_sweep
from core.sweep.plan import spec_from_text
from core.sweep.scheduler import run_sweep
from tests.helpers_waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake_python(tmp_path, monkeypatch) -> str:
    """An executable that runs tests/fakes/worker.py in place of `python -m core.train`."""
    monkeypatch.setenv("FAKE_WORKER_S", "0.6")
    script = tmp_path / "fake-python"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests/fakes/worker.py"}" "$@"\n')
    script.chmod(0o755)
    return str(script)


def most_at_once(journal: Path) -> int:
    """The largest number of fake workers whose start..end intervals overlap."""
    events = sorted((float(t), 1 if kind == "start" else -1) for kind, _, t in
                    (line.split() for line in journal.read_text().splitlines()))
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_the_queue_never_exceeds_the_cap_even_with_two_sweeps_and_a_run_from_elsewhere(tmp_path, fake_python,
                                                                                       monkeypatch):
    monkeypatch.setenv("DIGITLAB_MAX_RUNS", "2")
    store = RunStore(tmp_path / "runs")
    outsider = store.create_run(TrainConfig().to_dict(), name="started on the Train page")
    monkeypatch.setenv("FAKE_WORKER_S", "2.0")
    start_worker(store, outsider, fake_python)
    monkeypatch.setenv("FAKE_WORKER_S", "0.4")
    spec = spec_from_text({"lr": "0.001,0.002,0.003"}, seeds="0,1")
    sweep_ids = [create_sweep(store, spec, name=f"sweep {i}", jobs=2) for i in range(2)]
    samples: list[int] = []

    def sample(items, runs):
        samples.append(len(store.active_runs()))

    threads = [threading.Thread(target=run_sweep, args=(store, sweep_id), kwargs={
        "poll_s": 0.05, "python": fake_python, "report": sample}) for sweep_id in sweep_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(SweepStore(store).get(sweep_id).status == "completed" for sweep_id in sweep_ids)
    runs = store.list_runs()
    assert len(runs) == 13 and all(run.status == "completed" for run in runs)
    assert most_at_once(tmp_path / "runs" / "fake-journal.txt") <= 2
    assert samples and max(samples) <= 2
    for sweep_id in sweep_ids:
        tagged = [run for run in runs if sweep_tag(sweep_id) in run.tags]
        assert len(tagged) == 6 and {run.config["seed"] for run in tagged} == {0, 1}


def test_a_sweep_stops_as_a_whole_and_resume_trains_what_did_not_finish(tmp_path, fake_python, monkeypatch):
    monkeypatch.setenv("DIGITLAB_MAX_RUNS", "4")
    monkeypatch.setenv("FAKE_WORKER_S", "60")
    store = RunStore(tmp_path / "runs")
    sweeps = SweepStore(store)
    sweep_id = create_sweep(store, spec_from_text({"lr": "0.001,0.002,0.003"}), jobs=2)
    thread = threading.Thread(target=run_sweep, args=(store, sweep_id), kwargs={"poll_s": 0.05,
                                                                                "python": fake_python})
    thread.start()
    wait_until(lambda: sum(run.status == "running" for run in store.list_runs()) == 2, what="two runs training")
    stop_sweep(store, sweep_id)
    thread.join(30)
    assert not thread.is_alive() and sweeps.get(sweep_id).status == "stopped"
    assert sorted(run.status for run in store.list_runs()) == ["stopped", "stopped"]
    assert [item.run_id is None for item in sweeps.items(sweep_id)] == [False, False, True]

    monkeypatch.setenv("FAKE_WORKER_S", "0.3")
    sweeps.reopen(sweep_id)
    assert run_sweep(store, sweep_id, poll_s=0.05, python=fake_python).status == "completed"
    finished = {item.run_id: store.get(item.run_id).status for item in sweeps.items(sweep_id)}
    assert list(finished.values()) == ["completed"] * 3  # the two stopped items trained again, as new runs
    assert len(store.list_runs()) == 5


def test_a_second_scheduler_is_refused_while_the_first_lives(tmp_path, fake_python):
    store = RunStore(tmp_path / "runs")
    sweep_id = create_sweep(store, spec_from_text({"lr": "0.001"}))
    sweeps = SweepStore(store)
    sweeps.claim(sweep_id)  # this process is the scheduler now
    with pytest.raises(ValueError, match="already being run by process"):
        sweeps.claim(sweep_id, pid=os.getppid())
    assert sweeps.get(sweep_id).status == "running"


def test_a_sweep_whose_scheduler_is_sigkilled_resumes_and_completes(tmp_path):
    """Real workers: the scheduler dies mid-way, the run it started trains on, --resume finishes the rest."""
    store = RunStore(tmp_path / "runs")
    sweeps = SweepStore(store)
    spec = spec_from_text({"lr": "0.001,0.003", "epochs": "1", "hidden": "20"}, seeds="0,1")
    sweep_id = create_sweep(store, spec, name="killed", jobs=2)
    scheduler = start_scheduler(store, sweep_id)
    wait_until(lambda: any(item.run_id for item in sweeps.items(sweep_id)), what="the first run to start")
    os.kill(scheduler, signal.SIGKILL)
    wait_until(lambda: sweeps.get(sweep_id).status == "interrupted", 10, "the sweep to be seen interrupted")
    assert sum(item.run_id is None for item in sweeps.items(sweep_id)) >= 2  # killed mid-way

    done = subprocess.run([sys.executable, "-m", "core.sweep", "--resume", sweep_id, "--runs-dir",
                           str(store.root), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed" and sweeps.get(sweep_id).status == "completed"
    assert [run["status"] for run in result["runs"]] == ["completed"] * 4
    assert [(run["config"]["lr"], run["config"]["seed"]) for run in result["runs"]] == [
        (0.001, 0), (0.001, 1), (0.003, 0), (0.003, 1)]
    assert len({run["run_id"] for run in result["runs"]}) == 4
    assert result["best"] in result["runs"]
    assert result["best"]["val_accuracy"] == max(run["val_accuracy"] for run in result["runs"])
    assert [group["seeds"] for group in result["groups"]] == [[0, 1], [0, 1]]


def test_cli_json_contract_and_bad_input(tmp_path):
    runs_dir = str(tmp_path / "runs")
    done = subprocess.run([sys.executable, "-m", "core.sweep", "--lr", "0.0003,0.003", "--epochs", "1",
                           "--hidden", "20", "--runs-dir", runs_dir, "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) >= {"runs", "best", "groups"}
    for run in result["runs"]:
        assert set(run) == {"run_id", "status", "val_accuracy", "test_accuracy", "config"}
        assert run["status"] == "completed" and 0 < run["val_accuracy"] <= 1
    assert {run["config"]["lr"] for run in result["runs"]} == {0.0003, 0.003}
    assert result["best"] == max(result["runs"], key=lambda run: run["val_accuracy"])
    for group in result["groups"]:
        assert set(group) == {"config", "seeds", "mean_val_accuracy", "std_val_accuracy"} and "seed" not in \
            group["config"]
    assert summarize(RunStore(runs_dir), result["sweep_id"])["best"] == result["best"]
    assert "at most 2 at once" in done.stderr

    bad = subprocess.run([sys.executable, "-m", "core.sweep", "--lr", "0.001:0.01", "--runs-dir", runs_dir],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "needs random samples" in bad.stderr and "Traceback" not in bad.stderr
    assert len(SweepStore(RunStore(runs_dir)).list_sweeps()) == 1  # nothing queued for the bad one


def test_resume_refuses_a_sweep_that_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        resume_sweep(RunStore(tmp_path), "nope")


def test_a_sweep_stopped_before_its_scheduler_claims_it_stays_stopped(tmp_path):
    store = RunStore(tmp_path / "runs")
    sweeps = SweepStore(store)
    sweep_id = create_sweep(store, spec_from_text({"lr": "0.001,0.01", "epochs": "1"}))
    stop_sweep(store, sweep_id)  # pressed at once: no scheduler has claimed it yet
    scheduler = start_scheduler(store, sweep_id)
    wait_until(lambda: not _process_alive(scheduler), 120, "the scheduler to exit")
    assert sweeps.get(sweep_id).status == "stopped" and store.list_runs() == []
