"""The Runs page's one-run section: lineage, rename and tag, downloads, resume, replay, share and delete."""
from functools import partial

import streamlit as st

from core.results import compare, export
from core.runner.launch import launch_replay, launch_resume
from dashboard import workspace_sections
from dashboard.common import check_capacity, store, warm_worker
from dashboard.train_form import form_maxima

RESUMABLE = ("completed", "stopped", "interrupted")


def replay_check(replay_id: str, updated: tuple[float, float]) -> tuple[str, str]:
    store().check_visible(replay_id)  # the cache is shared by every session, and a hit skips the store's check
    return _replay_check(replay_id, updated)


@st.cache_data(show_spinner=False, max_entries=32)
def _replay_check(replay_id: str, updated: tuple[float, float]) -> tuple[str, str]:
    """Cached per (replay, both runs' last update): finished runs never change, so it is computed once."""
    return compare.replay_report(store(), store().get(replay_id))


def flash(level: str, text: str) -> None:
    """A message for the next run of the page (callbacks run before the page draws)."""
    st.session_state.runs_flash = (level, text)


def show_flash() -> None:
    """The outcome of a button below, shown where the user is looking."""
    if "runs_flash" in st.session_state:
        level, message = st.session_state.pop("runs_flash")
        getattr(st, level)(message)


def act(action, run_id: str, done: str) -> None:
    """Run a store/worker action from a button; its ValueError becomes the message."""
    try:
        result = action(run_id)
        flash("success", done.format(result=result))
    except ValueError as exc:
        flash("error", str(exc))


def launch_checked(launcher, run_id: str) -> str:
    check_capacity()
    return launcher(store(), run_id, warm=warm_worker())


def resume(run_store, run_id: str, warm=None) -> str:
    return launch_resume(run_store, run_id, st.session_state.runs_resume_epochs, warm=warm)


def delete(run_id: str) -> None:
    name = store().get(run_id).name
    store().delete(run_id)
    st.session_state.runs_compare = [other for other in st.session_state.get("runs_compare", []) if other != run_id]
    st.session_state.pop("runs_confirm_delete", None)
    flash("success", f"Deleted {name}: its row, metrics, checkpoints and folder are gone.")


def downloads(run) -> None:
    ready = export.has_checkpoint(store(), run.id)
    columns = st.columns(3)
    for index, item in enumerate(export.downloads(store(), run)):  # each file is built only when clicked
        columns[index % 3].download_button(item.label, item.build, item.filename, item.mime,
                                           key=f"runs_dl_{item.key}", help=item.help,
                                           disabled=item.needs_checkpoint and not ready, width="stretch")
    if not export.onnx_available():
        st.caption(export.ONNX_HINT)
    if not ready:
        st.caption("No checkpoint yet: one is written at the end of each epoch.")
    if store().actor is not None:  # public mode: it would write files on the server that nobody owns
        return
    st.button("Export metrics for TensorBoard", key="runs_tensorboard", on_click=act, args=(
        lambda run_id: export.export_tensorboard(store(), run_id, store().root / "tensorboard"), run.id,
        "Wrote event files to {result}; view them with: tensorboard --logdir {result}"))


def rename_and_tag(run) -> None:
    st.text_input("Name", key="runs_rename", max_chars=100)
    st.button("Rename", key="runs_rename_button", on_click=act, args=(
        lambda run_id: store().rename(run_id, st.session_state.runs_rename), run.id, "Renamed."))
    st.text_input("Tags", key="runs_tags", help="comma-separated, e.g. baseline, cnn")
    st.button("Save tags", key="runs_tags_button", on_click=act, args=(
        lambda run_id: store().set_tags(run_id, st.session_state.runs_tags.split(",")), run.id, "Tags saved."))


def resume_and_replay(run) -> None:
    st.number_input("Train until epoch", 1, form_maxima()[0], key="runs_resume_epochs",
                    help="continues from the last checkpoint: same weights, optimizer state and data order")
    st.button("Resume", key="runs_resume", disabled=run.status not in RESUMABLE, on_click=act, help="continues a "
              "completed, stopped or interrupted run as a new linked run", args=(
        partial(launch_checked, resume), run.id,
        "Started run {result}, continuing this one. Watch it on the Train page."))
    st.button("Replay", key="runs_replay", disabled=run.active, on_click=act, args=(
        partial(launch_checked, launch_replay), run.id,
        "Started run {result}: the same config and seed again. Watch it on the Train page; when it has "
        "finished, pick it here to see whether the curves match."))


def confirm_delete(run) -> None:
    if st.session_state.get("runs_confirm_delete") != run.id:
        st.button("Delete run…", key="runs_delete", disabled=run.active, help="stop it first" if run.active
                  else None, on_click=st.session_state.update, kwargs={"runs_confirm_delete": run.id})
        return
    st.warning(f"Delete **{run.name}**? Its metrics, checkpoints and predictions go too. This cannot be undone.")
    yes, no = st.columns(2)
    yes.button("Yes, delete", key="runs_delete_confirm", type="primary", on_click=delete, args=(run.id,))
    no.button("Cancel", key="runs_delete_cancel", on_click=st.session_state.pop, args=("runs_confirm_delete",))


def manage(run, runs: list) -> None:
    if st.session_state.get("runs_form_for") != run.id:  # a newly picked run: fill its fields
        st.session_state.update(runs_form_for=run.id, runs_rename=run.name, runs_tags=", ".join(run.tags),
                                runs_resume_epochs=min(form_maxima()[0], int(run.config.get("epochs", 5)) + 5))
    for line in compare.lineage(run, runs):
        st.markdown(f"- {line}")
    if run.origin == "replay":
        parent = next((other for other in runs if other.id == run.parent_id), None)
        level, text = replay_check(run.id, (run.updated, parent.updated if parent else 0.0))
        getattr(st, level)(f"Replay check: {text}")
    if run.error:
        st.error(f"{run.status}: {run.error}")
    workspace_sections.read_only_note(run, "runs")
    if not store().owns(run):  # read-only: its files and settings, nothing that changes it
        downloads(run)
        return
    # No rerun on a tab switch: it would replace the ids of the built-on-click downloads while a
    # click on them may already be on its way ("Deferred file ... not found" in the server log).
    names = ["Rename & tag", "Download", "Resume & replay", "Delete"] + (["Share"] if store().actor else [])
    edit, files, again, remove, *share = st.tabs(names)
    with edit:
        rename_and_tag(run)
    with files:
        downloads(run)
    with again:
        resume_and_replay(run)
    with remove:
        confirm_delete(run)
    for tab in share:  # public mode only
        with tab:
            workspace_sections.share_section(run)
