"""Starting runs as their own processes: new, resumed from a checkpoint, or replayed.

The dashboard never trains in its own process: it creates the run, then starts
``python -m core.train --run-id ID``, the same entry point a user runs in a shell.
"""
from __future__ import annotations

import subprocess
import sys

from core.config import TrainConfig
from core.inside.storage import copy_inside
from core.runner.warm import REPO_ROOT, WarmWorker
from core.store import run_files
from core.store.run_store import RunStore, load_checkpoint


def launch(store: RunStore, config: TrainConfig, name: str = "", parent_id: str | None = None, origin: str = "",
           python: str = sys.executable, warm: WarmWorker | None = None) -> str:
    """Create a run and start its worker; return the id.

    With ``warm``, the worker is forked from that warm server (first step in a fraction of a
    second); without it, or if the server cannot serve, ``python -m core.train --run-id`` starts.
    """
    run_id = store.create_run(config.to_dict(), name=name, parent_id=parent_id, origin=origin)
    if origin == "resume":
        copy_history(store, parent_id, run_id)  # so the new run's curves start where the parent's ended
    pid = warm.start(run_id, store.root) if warm is not None else None
    if pid is not None:
        store.update(run_id, pid=pid)
        return run_id
    start_worker(store, run_id, python)
    return run_id


def start_worker(store: RunStore, run_id: str, python: str = sys.executable) -> int:
    """Start ``python -m core.train --run-id`` for a run already in the store; return its pid."""
    log = open(store.run_dir(run_id) / run_files.WORKER_LOG, "wb")
    process = subprocess.Popen(
        [python, "-m", "core.train", "--run-id", run_id, "--runs-dir", str(store.root.resolve())],
        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,  # a Streamlit restart or Ctrl-C does not take the worker with it
    )
    log.close()
    store.update(run_id, pid=process.pid)
    return process.pid


def load_resume(store: RunStore, run) -> dict | None:
    """The checkpoint a run continues from: its parent's last one if it is a resumed run."""
    if run.origin != "resume":
        return None
    return load_checkpoint(store, run.parent_id, "last")


def resume_config(store: RunStore, parent_id: str, epochs: int) -> TrainConfig:
    """The parent's config with a new epoch total; ValueError if it cannot be resumed."""
    checkpoint = load_checkpoint(store, parent_id, "last")
    config = TrainConfig.from_dict({**checkpoint["config"], "epochs": epochs}).validate()
    if epochs <= checkpoint["epoch"]:
        raise ValueError(f"epochs must be more than the {checkpoint['epoch']} epochs run {parent_id} "
                         f"already trained, got {epochs}")
    return config


def launch_resume(store: RunStore, parent_id: str, epochs: int, warm: WarmWorker | None = None) -> str:
    """Continue a run from its last checkpoint (weights, optimizer, data order) as a new linked run."""
    parent = store.check_owner(parent_id, "resume")
    config = resume_config(store, parent_id, epochs)
    return launch(store, config, name=f"{parent.name} (resumed)", parent_id=parent_id, origin="resume", warm=warm)


def replay_config(run) -> TrainConfig:
    """The run's config and seed, with the thread count it actually used (results depend on it)."""
    threads = run.summary.get("threads") or run.config.get("threads", 0)
    return TrainConfig.from_dict({**run.config, "threads": threads}).validate()


def launch_replay(store: RunStore, run_id: str, warm: WarmWorker | None = None) -> str:
    """Train the run's exact config and seed again as a new run; compare with ``replay_matches``."""
    run = store.check_owner(run_id, "replay")  # ValueError if deleted; NotAllowed if another workspace's
    return launch(store, replay_config(run), name=f"{run.name} (replay)", parent_id=run_id, origin="replay",
                  warm=warm)


def copy_history(store: RunStore, parent_id: str, child_id: str) -> None:
    """A resumed run starts with its parent's curves, predictions and inside record, so they continue.

    Only up to the parent's last checkpoint, where the child starts: a parent killed after it may
    have recorded later steps and epochs, which the child trains again.
    """
    checkpoint = load_checkpoint(store, parent_id, "last")
    series = store.metrics(parent_id)
    store.append_metrics(child_id, [(name, s, e, v) for name, values in series.items()
                                    for s, e, v in zip(values["step"], values["epoch"], values["value"])
                                    if s <= checkpoint["step"]])
    run_files.copy_predictions(store.run_dir(parent_id), store.run_dir(child_id), until_epoch=checkpoint["epoch"])
    copy_inside(store.run_dir(parent_id), store.run_dir(child_id))
