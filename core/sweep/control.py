"""Making, starting, stopping and resuming sweeps from another process (the dashboard, a test, a benchmark).

The scheduler always runs as its own process, ``python -m core.sweep --resume ID``, in its own
session, as training workers do: a Streamlit restart or Ctrl-C in the shell that started the
dashboard does not stop a sweep.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.runner.launch import REPO_ROOT
from core.store.run_store import RunStore
from core.store.sweep_store import SweepStore
from core.sweep.plan import SweepSpec, default_jobs, expand

LOG_DIR = "sweeps"  # in the store's root: one scheduler log per sweep


def scheduler_log(store: RunStore, sweep_id: str) -> Path:
    return store.root / LOG_DIR / f"{sweep_id}.log"


def create_sweep(store: RunStore, spec: SweepSpec, name: str = "", jobs: int = 0) -> str:
    """Validate and expand ``spec`` and queue its runs as a new sweep; ValueError names what is wrong."""
    planned = expand(spec)
    if jobs < 0:
        raise ValueError(f"jobs must be 1 or more (0 = what this machine can take), got {jobs}")
    jobs = jobs or default_jobs([config for _, config in planned])
    return SweepStore(store).create(name.strip(), "sweep", spec.to_dict(),
                                    [(label, config.to_dict()) for label, config in planned], jobs)


def start_scheduler(store: RunStore, sweep_id: str, python: str = sys.executable) -> int:
    """Start the sweep's scheduler process; returns its pid."""
    log_path = scheduler_log(store, sweep_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            # --queued: run it as queued now; a Stop pressed before this process claims the sweep then holds
            [python, "-m", "core.sweep", "--resume", sweep_id, "--queued", "--runs-dir", str(store.root.resolve())],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # the sweep outlives the dashboard that started it
        )
    SweepStore(store).starting(sweep_id, process.pid)
    return process.pid


def stop_sweep(store: RunStore, sweep_id: str) -> None:
    """Stop a sweep as a whole: nothing more starts, and its runs stop after their current batch."""
    sweeps = SweepStore(store)
    sweep = sweeps.get(sweep_id)
    if sweep is None:
        raise ValueError(f"sweep {sweep_id} does not exist (deleted?)")
    sweeps.request_stop(sweep_id)
    runs = {run.id: run for run in store.list_runs()}
    for item in sweeps.items(sweep_id):  # at once, not at the scheduler's next look
        if item.run_id in runs and runs[item.run_id].active:
            store.request_stop(item.run_id)
    if sweep.status in ("queued", "interrupted"):  # no scheduler will see the request: finish it here
        sweeps.finish(sweep_id, "stopped")


def resume_sweep(store: RunStore, sweep_id: str, python: str = sys.executable) -> int:
    """Start a new scheduler for a stopped or interrupted sweep; it trains what did not finish. Returns its pid."""
    SweepStore(store).reopen(sweep_id)
    return start_scheduler(store, sweep_id, python)
