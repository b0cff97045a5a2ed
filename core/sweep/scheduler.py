"""The sweep scheduler: starts a sweep's queued runs as worker processes, never more at once than its ``jobs``
and the store-wide cap (``DIGITLAB_MAX_RUNS``) allow, until every item has run.

Everything it knows is in the store (:mod:`core.store.sweep_store`), so a scheduler can die at any
moment and another can finish its sweep: the workers it started train on in their own sessions,
and items whose runs were interrupted or stopped are trained again.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable

from core.runner.capacity import free_slots, launch_lock
from core.runner.launch import start_worker
from core.store.run_store import Run, RunStore
from core.store.sweep_store import Sweep, SweepItem, SweepStore, sweep_tag

POLL_S = 0.5  # how often the queue is looked at: a finished run's slot is refilled within this
HEARTBEAT_S = 5.0  # how often the sweep's row is touched, so another machine sees the scheduler alive
TRAIN_AGAIN = ("interrupted", "stopped")  # a resumed sweep trains these items again; other outcomes are results
MAX_NAME = 100  # a run name's limit in the store


def requeue_unfinished(store: RunStore, sweeps: SweepStore, sweep_id: str) -> int:
    """Put back in the queue every item whose run was interrupted, stopped or deleted; return how many."""
    runs = {run.id: run for run in store.list_runs()}
    again = [item for item in sweeps.items(sweep_id)
             if item.run_id and (item.run_id not in runs or runs[item.run_id].status in TRAIN_AGAIN)]
    for item in again:
        sweeps.assign(sweep_id, item.position, None)
    return len(again)


def launch_item(store: RunStore, sweeps: SweepStore, sweep: Sweep, item: SweepItem, python: str) -> str:
    """Create the item's run, record it in the queue, then start its worker; returns the run id.

    In that order, so a scheduler killed in between leaves either an orphan run that the next reader
    marks interrupted (its pid is this process), or a queue entry whose run a resume trains again.
    """
    run_id = store.create_run(item.config, name=f"{sweep.name} · {item.label}"[:MAX_NAME])
    sweeps.assign(sweep.id, item.position, run_id)
    store.set_tags(run_id, [sweep_tag(sweep.id)])
    start_worker(store, run_id, python)
    return run_id


def start_queued(store: RunStore, sweeps: SweepStore, sweep: Sweep, queued: list[SweepItem], active: int,
                 python: str) -> list[str]:
    """Start as many queued items as the sweep's jobs and the cap allow right now; return the new run ids."""
    room = sweep.jobs - active
    if room <= 0 or not queued:
        return []
    with launch_lock(store):  # count and create under one lock: two schedulers never share a last slot
        room = min(room, free_slots(store))
        return [launch_item(store, sweeps, sweep, item, python) for item in queued[:room]]


def run_sweep(store: RunStore, sweep_id: str, poll_s: float = POLL_S, python: str = sys.executable,
              report: Callable[[list[SweepItem], dict[str, Run]], None] | None = None) -> Sweep:
    """Claim the sweep and schedule it to the end (completed, or stopped on request); return its final state.

    SIGTERM or Ctrl-C stops the sweep as a whole: nothing more starts and its runs stop after
    their current batch. ``report(items, runs)`` is called after each look at the queue.
    """
    sweeps = SweepStore(store)
    sweep = sweeps.claim(sweep_id)
    if not sweep.stop_requested:
        requeue_unfinished(store, sweeps, sweep_id)
    in_main_thread = threading.current_thread() is threading.main_thread()

    def on_signal(signum, frame):
        sweeps.request_stop(sweep_id)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)} if in_main_thread else {}
    last_beat = time.monotonic()
    try:
        while True:
            sweep, items = sweeps.get(sweep_id), sweeps.items(sweep_id)
            if sweep is None:
                raise ValueError(f"sweep {sweep_id} was deleted while it ran")
            runs = {run.id: run for run in store.list_runs()}
            active = [runs[item.run_id] for item in items if item.run_id in runs and runs[item.run_id].active]
            if sweep.stop_requested:
                for run in active:
                    store.request_stop(run.id)
                if not active:
                    sweeps.finish(sweep_id, "stopped")
                    break
            else:
                queued = [item for item in items if item.run_id is None]
                if not queued and not active:
                    sweeps.finish(sweep_id, "completed")
                    break
                if start_queued(store, sweeps, sweep, queued, len(active), python):
                    items = sweeps.items(sweep_id)
                    runs = {run.id: run for run in store.list_runs()}
            if report is not None:
                report(items, runs)
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                sweeps.heartbeat(sweep_id)
                last_beat = time.monotonic()
            time.sleep(poll_s)
    except BaseException as exc:
        # Leave it resumable and say why; the runs it started train on in their own processes.
        sweeps.finish(sweep_id, "interrupted", error=f"The scheduler stopped: {type(exc).__name__}: {exc}")
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return sweeps.get(sweep_id)
