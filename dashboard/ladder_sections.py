"""The Speed-up ladder page's parts: starting a ladder, and one ladder's progress, chart and rungs."""
import streamlit as st

from core.results.sweep_summary import progress_counts, sweep_rows
from core.store.sweep_store import SweepStore
from core.sweep.control import start_scheduler, stop_sweep
from core.sweep.ladder import BASE, create_ladder, ladder_results
from dashboard import figures
from dashboard.common import dataset, store


def start() -> None:
    ladder_id = create_ladder(store())
    start_scheduler(store(), ladder_id)
    st.session_state.ladder_selected = ladder_id


def stop(ladder_id: str) -> None:
    try:
        stop_sweep(store(), ladder_id)
    except ValueError as exc:
        st.session_state.ladder_flash = str(exc)


def rung_details(rungs: list[dict]) -> None:
    for index, rung in enumerate(rungs):
        times = ", ".join("—" if t is None else f"{t:.1f} s" for t in rung["seconds"])
        epochs = ", ".join("—" if e is None else str(e) for e in rung["epochs_to_target"])
        st.markdown(f"**{index + 1}. {rung['name']}** · change: `{rung['change']}` · {rung['words']}")
        st.code(rung["snippet"], language="python")
        per_epoch = "—" if rung["epoch_seconds"] is None else f"{rung['epoch_seconds']:.2f} s"
        st.caption(f"{rung['why']}\n\nSeconds to target per seed: {times} (reached after epoch {epochs}); "
                      f"{per_epoch} per epoch. Runs: {', '.join(run_id or 'queued' for run_id in rung['run_ids'])}")


def view(ladder_id: str) -> None:
    sweep, rows = sweep_rows(store(), ladder_id)
    counts = progress_counts(rows)
    st.progress(counts["finished"] / max(1, counts["total"]),
                text=f"{sweep.status} · {counts['finished']}/{counts['total']} runs · one at a time, so no rung "
                     "shares the cores with another")
    if sweep.active:
        st.button("Stop the ladder", key="ladder_stop", icon=":material/stop:", on_click=stop, args=(ladder_id,))
    labels = dataset(BASE.dataset, BASE.val_fraction).split("test")[1]
    rungs = ladder_results(store(), sweep, labels)
    figures.show(figures.ladder_figure(rungs), width="stretch", key="ladder_chart")
    target = sweep.spec.get("target", 0.97)
    st.caption(f"Seconds of training (and each epoch's evaluation) until the test accuracy first reached "
               f"{target:.0%}; the bar spans the seeds' range. A rung that does not help here says so: on another "
               "machine it may.")
    rung_details(rungs)
    if st.session_state.get("ladder_live") and not sweep.active:
        st.session_state.ladder_live = False
        st.rerun()
    st.session_state.ladder_live = sweep.active


def ladders():
    return SweepStore(store()).list_sweeps("ladder")
