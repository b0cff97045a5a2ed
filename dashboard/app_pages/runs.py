"""Runs: every run in the store. Sort, filter, compare curves and configs, rename, tag, delete,
download (metrics, config, checkpoint, TorchScript, ONNX), resume and replay."""
from functools import partial

import streamlit as st
from plotly.colors import qualitative

from core import compare, export
from core.worker import launch_replay, launch_resume
from dashboard import figures
from dashboard.common import check_capacity, pick_run, run_label, store

ORDER = ["name", "status", "test_accuracy", "best_val_accuracy", "val_accuracy", "model", "hidden", "optimizer", "lr",
         "batch_size", "epochs", "dataset", "device", "duration_s", "created", "tags", "lineage", "id"]
COLUMNS = {"created": st.column_config.DatetimeColumn("created", format="MMM D, HH:mm:ss"),
           "duration_s": st.column_config.NumberColumn("duration", format="%.1f s", help="seconds of training"),
           "lr": st.column_config.NumberColumn("lr", format="%g"), "batch_size": "batch",
           "best_val_accuracy": st.column_config.NumberColumn("best val", format="percent"),
           "val_accuracy": st.column_config.NumberColumn("final val", format="percent"),
           "test_accuracy": st.column_config.NumberColumn("test", format="percent")}
RESUMABLE = ("completed", "stopped", "interrupted")
HIGHLIGHT = "background-color: rgba(255, 189, 69, 0.35)"


@st.cache_data(show_spinner=False, max_entries=32)
def replay_check(replay_id: str, updated: tuple[float, float]) -> tuple[str, str]:
    """Cached per (replay, both runs' last update): finished runs never change, so it is computed once."""
    return compare.replay_report(store(), store().get(replay_id))


def flash(level: str, text: str) -> None:
    """A message for the next run of the page (callbacks run before the page draws)."""
    st.session_state.runs_flash = (level, text)


def table_selected(visible_ids: list[str]) -> None:
    st.session_state.runs_compare = [visible_ids[i] for i in st.session_state.runs_table.selection.rows
                                     if i < len(visible_ids)]


def act(action, run_id: str, done: str) -> None:
    """Run a store/worker action from a button; its ValueError becomes the message."""
    try:
        result = action(run_id)
        flash("success", done.format(result=result))
    except ValueError as exc:
        flash("error", str(exc))


def launch_checked(launcher, run_id: str) -> str:
    check_capacity()
    return launcher(store(), run_id)


def delete(run_id: str) -> None:
    name = store().get(run_id).name
    store().delete(run_id)
    st.session_state.runs_compare = [i for i in st.session_state.get("runs_compare", []) if i != run_id]
    st.session_state.pop("runs_confirm_delete", None)
    flash("success", f"Deleted {name}: its row, metrics, checkpoints and folder are gone.")


def comparison(chosen: list) -> None:
    labels = compare.trace_labels(chosen)
    colors = {run.id: qualitative.Plotly[i % len(qualitative.Plotly)] for i, run in enumerate(chosen)}
    overlay = compare.overlay_series(store(), [run.id for run in chosen])
    left, right = st.columns(2)
    left.plotly_chart(figures.overlay_figure(overlay["loss_smooth"], labels, colors, "Training loss (smoothed)", False),
                      width="stretch", key="runs_compare_loss")
    right.plotly_chart(figures.overlay_figure(overlay["val_accuracy"], labels, colors, "Validation accuracy", True),
                       width="stretch", key="runs_compare_acc")
    if len(chosen) < 2:
        return
    diff = compare.config_diff_table(chosen)
    differing = list(diff.index[diff["differs"]])
    st.markdown(f"**Settings that differ:** {', '.join(differing) or 'none (same config)'}")
    if st.toggle("Only the settings that differ", key="runs_diff_only"):
        diff = diff[diff["differs"]]
    styled = diff.style.apply(lambda row: [HIGHLIGHT if row["differs"] else ""] * len(row), axis=1)
    st.dataframe(styled, width="stretch", key="runs_diff", height=min(36 * (len(diff) + 1) + 3, 560),
                 column_config={"_index": st.column_config.Column("field", width="medium")})


def downloads(run) -> None:
    ready = export.has_checkpoint(store(), run.id)
    cols = st.columns(3)
    for i, item in enumerate(export.downloads(store(), run)):  # each file is built only when clicked
        cols[i % 3].download_button(item.label, item.build, item.filename, item.mime, key=f"runs_dl_{item.key}",
                                    help=item.help, disabled=item.needs_checkpoint and not ready, width="stretch")
    if not export.onnx_available():
        st.caption(export.ONNX_HINT)
    if not ready:
        st.caption("No checkpoint yet: one is written at the end of each epoch.")
    st.button("Export metrics for TensorBoard", key="runs_tensorboard", on_click=act, args=(
        lambda i: export.export_tensorboard(store(), i, store().root / "tensorboard"), run.id,
        "Wrote event files to {result}; view them with: tensorboard --logdir {result}"))


def manage(run, runs: list) -> None:
    if st.session_state.get("runs_form_for") != run.id:  # a newly picked run: fill its fields
        st.session_state.update(runs_form_for=run.id, runs_rename=run.name, runs_tags=", ".join(run.tags),
                                runs_resume_epochs=min(1000, int(run.config.get("epochs", 5)) + 5))
    for line in compare.lineage(run, runs):
        st.markdown(f"- {line}")
    if run.origin == "replay":
        parent = next((other for other in runs if other.id == run.parent_id), None)
        level, text = replay_check(run.id, (run.updated, parent.updated if parent else 0.0))
        getattr(st, level)(f"Replay check: {text}")
    if run.error:
        st.error(f"{run.status}: {run.error}")
    # No rerun on a tab switch: it would replace the ids of the built-on-click downloads while a
    # click on them may already be on its way ("Deferred file ... not found" in the server log).
    edit, files, again, remove = st.tabs(["Rename & tag", "Download", "Resume & replay", "Delete"])
    with edit:
        st.text_input("Name", key="runs_rename", max_chars=100)
        st.button("Rename", key="runs_rename_button", on_click=act, args=(
            lambda i: store().rename(i, st.session_state.runs_rename), run.id, "Renamed."))
        st.text_input("Tags", key="runs_tags", help="comma-separated, e.g. baseline, cnn")
        st.button("Save tags", key="runs_tags_button", on_click=act, args=(
            lambda i: store().set_tags(i, st.session_state.runs_tags.split(",")), run.id, "Tags saved."))
    with files:
        downloads(run)
    with again:
        st.number_input("Train until epoch", 1, 1000, key="runs_resume_epochs",
                        help="continues from the last checkpoint: same weights, optimizer state and data order")
        st.button("Resume", key="runs_resume", disabled=run.status not in RESUMABLE, on_click=act, help="continues a "
                  "completed, stopped or interrupted run as a new linked run", args=(
            partial(launch_checked, lambda s, i: launch_resume(s, i, st.session_state.runs_resume_epochs)), run.id,
            "Started run {result}, continuing this one. Watch it on the Train page."))
        st.button("Replay", key="runs_replay", disabled=run.active, on_click=act, args=(
            partial(launch_checked, launch_replay), run.id,
            "Started run {result}: the same config and seed again. Watch it on the Train page; when it has "
            "finished, pick it here to see whether the curves match."))
    with remove:
        if st.session_state.get("runs_confirm_delete") != run.id:
            st.button("Delete run…", key="runs_delete", disabled=run.active, help="stop it first" if run.active
                      else None, on_click=st.session_state.update, kwargs={"runs_confirm_delete": run.id})
            return
        st.warning(f"Delete **{run.name}**? Its metrics, checkpoints and predictions go too. This cannot be undone.")
        yes, no = st.columns(2)
        yes.button("Yes, delete", key="runs_delete_confirm", type="primary", on_click=delete, args=(run.id,))
        no.button("Cancel", key="runs_delete_cancel", on_click=st.session_state.pop, args=("runs_confirm_delete",))


st.title("Runs")
runs = store().list_runs()
if not runs:
    st.info("No runs yet. Train one on the **Train** page, or from a shell: `python -m core.train --epochs 5`.")
    st.stop()
by_id = {run.id: run for run in runs}
table = compare.runs_table(runs)
text, statuses, models = st.columns([2, 1, 1])
text.text_input("Filter", key="runs_filter", placeholder="name, tag, dataset or id")
statuses.multiselect("Status", sorted(table["status"].unique()), key="runs_status")
models.multiselect("Model", sorted(table["model"].unique()), key="runs_model")
shown = compare.filter_table(table, st.session_state.runs_filter, st.session_state.runs_status,
                             st.session_state.runs_model)
st.dataframe(shown, column_order=ORDER, column_config=COLUMNS, hide_index=True, width="stretch", key="runs_table",
             on_select=partial(table_selected, list(shown["id"])), selection_mode="multi-row")
note, refresh = st.columns([5, 1], vertical_alignment="center")
note.caption(f"{len(shown)} of {len(runs)} runs. Click a heading to sort; tick rows to compare them.")
if any(run.active for run in runs):  # the table is a snapshot; the Train page is the live view
    refresh.button("Refresh", key="runs_refresh", icon=":material/refresh:", width="stretch")

st.subheader("Compare")
st.session_state.runs_compare = [i for i in st.session_state.get("runs_compare", []) if i in by_id]
chosen = st.multiselect("Runs to compare", list(by_id), key="runs_compare", format_func=lambda i: run_label(by_id[i]))
if chosen:
    comparison([by_id[i] for i in chosen])
else:
    st.caption("Pick runs here or tick them in the table to overlay their curves and compare their settings.")

st.subheader("One run")
if "runs_flash" in st.session_state:  # the outcome of a button below, shown where the user is looking
    level, message = st.session_state.pop("runs_flash")
    getattr(st, level)(message)
manage(pick_run(runs, key="runs_selected", label="Run", preferred=chosen[-1] if chosen else None), runs)
