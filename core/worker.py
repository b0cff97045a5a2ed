"""Running one training as a run in the store: the callback that writes, and the glue.

The same code serves a run typed in a shell and one started by the dashboard (which
launches ``python -m core.train --run-id ID`` as its own process).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from core.runs import RunStore
from core.train import Callback, EpochState, TrainConfig, TrainResult, train

REPO_ROOT = Path(__file__).resolve().parents[1]
FLUSH_EVERY_S = 0.5  # metric rows are written in batches at most twice a second
CHECKPOINT_LAST, CHECKPOINT_BEST, PREDICTIONS = "last.pt", "best.pt", "predictions.pt"


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
        previous = self.store.load_tensors(self.run_id, PREDICTIONS)
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
        checkpoint = {
            "model": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict() if state.scheduler is not None else {},
            "generator": state.generator.get_state(), "config": state.config.to_dict(),
            "epoch": epoch, "step": step, "val_accuracy": values.get("val_accuracy"),
            "best_val_accuracy": values.get("val_accuracy") if state.is_best else None,
        }
        self.store.save_tensors(self.run_id, CHECKPOINT_LAST, checkpoint)
        if state.is_best:
            self.store.save_tensors(self.run_id, CHECKPOINT_BEST, checkpoint)
        # Per-epoch test predictions, compactly: class as uint8, confidence as float16.
        self.epochs.append(epoch)
        self.predicted.append(state.test_predicted.to(torch.uint8))
        self.confidence.append(state.test_confidence.to(torch.float16))
        self.store.save_tensors(self.run_id, PREDICTIONS, {
            "epochs": torch.tensor(self.epochs), "predicted": torch.stack(self.predicted),
            "confidence": torch.stack(self.confidence),
        })

    def on_end(self, result: TrainResult) -> None:
        self.flush()

    def should_stop(self) -> bool:
        return self.signalled or self.stop_file.exists()


def failure_message(exc: BaseException, store: RunStore) -> str:
    """What went wrong, in words a user can act on."""
    text = str(exc)
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return f"Out of memory on the device ({text.splitlines()[0][:200]}). Try a smaller batch size or model."
    if isinstance(exc, MemoryError) or "can't allocate memory" in text:
        return "Out of memory in RAM. Try a smaller batch size or model, or stop other runs."
    if isinstance(exc, OSError):
        return (f"Could not write to the run store: {exc.strerror or text} ({exc.filename or store.root}). "
                "Free disk space or make the runs folder writable, then resume from the last checkpoint.")
    if isinstance(exc, KeyboardInterrupt):
        return "Interrupted."
    if type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):
        return (f"torch.compile failed: {text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__}. "
                "Train without compile; on a CPU, compile also needs a working C++ compiler (gcc or clang).")
    return f"{type(exc).__name__}: {text}"


def execute(store: RunStore, run_id: str, config: TrainConfig, data=None, resume: dict | None = None) -> TrainResult:
    """Train ``config`` as run ``run_id``, leaving the run in a final state whatever happens.

    On failure the run is marked ``failed`` with :func:`failure_message` and the exception
    propagates. If the store itself cannot be written, the run stays ``running`` until a
    reader sees its process gone and marks it ``interrupted`` with the log's last lines.
    """
    reporter = StoreReporter(store, run_id)
    in_main_thread = threading.current_thread() is threading.main_thread()

    def on_signal(signum, frame):  # SIGTERM/SIGINT: stop after this batch, keep what was learned
        reporter.signalled = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)} if in_main_thread else {}
    try:
        result = train(config, (reporter,), data=data, resume=resume)
    except BaseException as exc:
        try:
            store.finish(run_id, "failed", error=failure_message(exc, store))
        except Exception:  # noqa: BLE001 - the store is what failed; the original error matters more
            pass
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    store.finish(run_id, result.status, error=result.error, summary={**store.get(run_id).summary,
                                                                     **result.summary()})
    return result


def launch(store: RunStore, config: TrainConfig, name: str = "", parent_id: str | None = None, origin: str = "",
           python: str = sys.executable) -> str:
    """Create a run and start its worker process (``python -m core.train --run-id``); return the id."""
    run_id = store.create_run(config.to_dict(), name=name, parent_id=parent_id, origin=origin)
    if origin == "resume":
        copy_history(store, parent_id, run_id)  # so the new run's curves start where the parent's ended
    log = open(store.run_dir(run_id) / "worker.log", "wb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [python, "-m", "core.train", "--run-id", run_id, "--runs-dir", str(store.root.resolve())],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,  # a Streamlit restart or Ctrl-C does not take the worker with it
    )
    log.close()
    store.update(run_id, pid=process.pid)
    return run_id


def load_resume(store: RunStore, run) -> dict | None:
    """The checkpoint a run continues from: its parent's last one if it is a resumed run."""
    if run.origin != "resume":
        return None
    from core.checkpoints import load_checkpoint

    return load_checkpoint(store, run.parent_id, "last")


def resume_config(store: RunStore, parent_id: str, epochs: int) -> TrainConfig:
    """The parent's config with a new epoch total; ValueError if it cannot be resumed."""
    from core.checkpoints import load_checkpoint

    checkpoint = load_checkpoint(store, parent_id, "last")
    config = TrainConfig.from_dict({**checkpoint["config"], "epochs": epochs}).validate()
    if epochs <= checkpoint["epoch"]:
        raise ValueError(f"epochs must be more than the {checkpoint['epoch']} epochs run {parent_id} "
                         f"already trained, got {epochs}")
    return config


def launch_resume(store: RunStore, parent_id: str, epochs: int) -> str:
    """Continue a run from its last checkpoint (weights, optimizer, data order) as a new linked run."""
    parent = store.get(parent_id)
    config = resume_config(store, parent_id, epochs)
    return launch(store, config, name=f"{parent.name} (resumed)", parent_id=parent_id, origin="resume")


def replay_config(run) -> TrainConfig:
    """The run's config and seed, with the thread count it actually used (results depend on it)."""
    threads = run.summary.get("threads") or run.config.get("threads", 0)
    return TrainConfig.from_dict({**run.config, "threads": threads}).validate()


def launch_replay(store: RunStore, run_id: str) -> str:
    """Train the run's exact config and seed again as a new run; compare with ``replay_matches``."""
    run = store.get(run_id)
    if run is None:
        raise ValueError(f"Run {run_id} does not exist (deleted?).")
    return launch(store, replay_config(run), name=f"{run.name} (replay)", parent_id=run_id, origin="replay")


TIMING_SERIES = ("seconds", "samples_per_s")  # wall-clock numbers differ on every run, by nature


def replay_matches(store: RunStore, original_id: str, replay_id: str) -> dict:
    """Compare two runs' metric series value by value; ``identical`` is exact equality."""
    a, b = store.metrics(original_id), store.metrics(replay_id)
    names = sorted((set(a) | set(b)) - set(TIMING_SERIES))
    differences = {}
    for name in names:
        left, right = a.get(name, {}).get("value", []), b.get(name, {}).get("value", [])
        if len(left) != len(right):
            differences[name] = float("inf")
        elif left:
            differences[name] = max(abs(x - y) for x, y in zip(left, right))
    worst = max(differences.values(), default=0.0)
    return {"identical": worst == 0.0, "max_abs_difference": worst, "series": names,
            "differing": sorted(n for n, d in differences.items() if d > 0)}


def copy_history(store: RunStore, parent_id: str, child_id: str) -> None:
    """A resumed run starts with its parent's curves and predictions, so they continue."""
    series = store.metrics(parent_id)
    store.append_metrics(child_id, [(name, s, e, v) for name, values in series.items()
                                    for s, e, v in zip(values["step"], values["epoch"], values["value"])])
    predictions = store.load_tensors(parent_id, PREDICTIONS)
    if predictions is not None:
        store.save_tensors(child_id, PREDICTIONS, predictions)
