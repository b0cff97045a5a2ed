"""Small helpers every page shares: the run store, run labels, turning errors into messages."""
from __future__ import annotations

import os
import time

import streamlit as st

from core.data.catalog import load_dataset
from core.data.digits import DigitData
from core.runner import capacity
from core.runner.warm import WarmWorker
from core.store.run_store import Run, RunStore, default_runs_dir


def max_concurrent_runs() -> int:
    """How many runs may train at once on this machine (env DIGITLAB_MAX_RUNS, default 2)."""
    return capacity.max_concurrent_runs()  # one reading of the cap, shared with the sweep scheduler


def check_capacity() -> None:
    """Raise ValueError when starting one more run would exceed the concurrent-run cap."""
    if len(store().active_runs()) >= max_concurrent_runs():
        cap = max_concurrent_runs()
        runs = "1 run is" if cap == 1 else f"{cap} runs are"
        raise ValueError(f"{runs} training already, the most this app allows at once "
                         "(set DIGITLAB_MAX_RUNS to change it). Stop one or wait for it to finish.")


@st.cache_resource(show_spinner=False)
def _store(path: str) -> RunStore:
    return RunStore(path)


@st.cache_resource(show_spinner=False)
def _warm_worker() -> WarmWorker:
    return WarmWorker()


def warm_worker() -> WarmWorker | None:
    """The server's warm worker, started on first use (env DIGITLAB_WARM_WORKER=0 turns it off)."""
    if os.environ.get("DIGITLAB_WARM_WORKER", "1") == "0":
        return None
    worker = _warm_worker()
    if worker.process.poll() is not None:  # it died (killed, or out of memory): start another next time
        _warm_worker.clear()
    return worker


@st.cache_resource(show_spinner="Loading the digits…", max_entries=3)
def dataset(name: str = "embedded", val_fraction: float = 0.1, data_dir: str = "") -> DigitData:
    """A dataset shared by every page and session; never mutate what this returns."""
    return load_dataset(name, val_fraction, data_dir)


def store() -> RunStore:
    """The run store named by DIGITLAB_RUNS_DIR (default ./runs); one object per folder."""
    return _store(str(default_runs_dir().resolve()))


def run_label(run: Run) -> str:
    """A stable label (no status: a selectbox label would go stale while the run trains)."""
    created = time.strftime("%b %d %H:%M:%S", time.localtime(run.created))
    name = run.name if run.name != run.id else run.id[-6:]
    sizes = "-".join(str(h) for h in run.config.get("hidden", []))
    return f"{name} · {run.model} {sizes} · {run.dataset} · {created}"


def pick_run(runs: list[Run], key: str, label: str = "Run", preferred: str | None = None) -> Run | None:
    """A run selectbox defaulting to ``preferred``, else the newest active run, else the newest."""
    if not runs:
        return None
    ids = [run.id for run in runs]
    default = preferred if preferred in ids else next((r.id for r in runs if r.active), ids[0])
    by_id = {run.id: run for run in runs}
    if st.session_state.get(key) not in ids:
        st.session_state[key] = default
    chosen = st.selectbox(label, ids, key=key, format_func=lambda run_id: run_label(by_id[run_id]))
    return by_id[chosen]
