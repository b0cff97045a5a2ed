"""Training one run of the store, leaving it in a final state whatever happens."""
from __future__ import annotations

import signal
import threading

import torch

from core.config import TrainConfig
from core.data.catalog import load_dataset
from core.inside.recorder import InsideRecorder
from core.runner.reporter import StoreReporter
from core.store.run_store import RunStore
from core.training.callbacks import Callback, TrainResult
from core.training.trainer import train


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


def execute(store: RunStore, run_id: str, config: TrainConfig, data=None, resume: dict | None = None,
            callbacks: tuple[Callback, ...] = ()) -> TrainResult:
    """Train ``config`` as run ``run_id``, leaving the run in a final state whatever happens.

    ``callbacks`` are called after the store's own, so their ``on_end`` sees everything written.

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
        try:
            recording: tuple[Callback, ...] = (reporter,)
            if config.inside:  # the recorder picks its probe digits from the data, so it is loaded here
                data = data if data is not None else load_dataset(config.dataset, config.val_fraction, config.data_dir)
                # After the reporter: at an epoch's end the reporter's inline writes come first, then the
                # recorder takes its norms and hands its snapshot and save to its own thread, which then
                # runs beside the next epoch's training rather than beside those writes.
                recording = (reporter, InsideRecorder(data, store.run_dir(run_id)))
            result = train(config, recording + tuple(callbacks), data=data, resume=resume)
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
    finally:
        reporter.close()
    return result
