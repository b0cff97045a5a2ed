"""Runs: every run in the store. Sort, filter, compare curves and configs, rename, tag, delete,
download (metrics, config, checkpoint, TorchScript, ONNX), resume and replay."""
from functools import partial

import streamlit as st

from core.results import compare
from dashboard.common import access, pick_run, run_labels, store
from dashboard.run_actions import manage, show_flash
from dashboard.run_comparison import comparison

ORDER = ["name", "status", "test_accuracy", "best_val_accuracy", "val_accuracy", "model", "hidden", "optimizer", "lr",
         "batch_size", "epochs", "dataset", "device", "duration_s", "created", "tags", "lineage", "id"]
COLUMNS = {"created": st.column_config.DatetimeColumn("created", format="MMM D, HH:mm:ss"),
           "duration_s": st.column_config.NumberColumn("duration", format="%.1f s", help="seconds of training"),
           "lr": st.column_config.NumberColumn("lr", format="%g"), "batch_size": "batch",
           "best_val_accuracy": st.column_config.NumberColumn("best val", format="percent"),
           "val_accuracy": st.column_config.NumberColumn("final val", format="percent"),
           "test_accuracy": st.column_config.NumberColumn("test", format="percent")}


def table_selected(visible_ids: list[str]) -> None:
    st.session_state.runs_compare = [visible_ids[row] for row in st.session_state.runs_table.selection.rows
                                     if row < len(visible_ids)]


st.title("Runs")
runs = store().list_runs()
if not runs:
    st.info("No runs yet. Train one on the **Train** page, or from a shell: `python -m core.train --epochs 5`.")
    st.stop()
by_id = {run.id: run for run in runs}
table = compare.runs_table(runs)
if store().actor is not None:  # public mode: whose each run is
    table.insert(1, "access", [access(by_id[run_id]) for run_id in table["id"]])
text, statuses, models = st.columns([2, 1, 1])
text.text_input("Filter", key="runs_filter", placeholder="name, tag, dataset or id")
statuses.multiselect("Status", sorted(table["status"].unique()), key="runs_status")
models.multiselect("Model", sorted(table["model"].unique()), key="runs_model")
shown = compare.filter_table(table, st.session_state.runs_filter, st.session_state.runs_status,
                             st.session_state.runs_model)
st.dataframe(shown, column_order=["name", "access", *ORDER[1:]] if "access" in shown else ORDER, column_config=COLUMNS,
             hide_index=True, width="stretch", key="runs_table", on_select=partial(table_selected, list(shown["id"])),
             selection_mode="multi-row")
note, refresh = st.columns([5, 1], vertical_alignment="center")
note.caption(f"{len(shown)} of {len(runs)} runs. Click a heading to sort; tick rows to compare them.")
if any(run.active for run in runs):  # the table is a snapshot; the Train page is the live view
    refresh.button("Refresh", key="runs_refresh", icon=":material/refresh:", width="stretch")

st.subheader("Compare")
st.session_state.runs_compare = [run_id for run_id in st.session_state.get("runs_compare", []) if run_id in by_id]
chosen = st.multiselect("Runs to compare", list(by_id), key="runs_compare", format_func=run_labels(runs).get)
if chosen:
    comparison([by_id[run_id] for run_id in chosen])
else:
    st.caption("Pick runs here or tick them in the table to overlay their curves and compare their settings.")

st.subheader("One run")
show_flash()
manage(pick_run(runs, key="runs_selected", label="Run", preferred=chosen[-1] if chosen else None), runs)
