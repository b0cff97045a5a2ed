"""Train: choose a model and hyperparameters, start a worker, watch it learn live."""
import streamlit as st

from core.config import TrainConfig
from core.results.live import live_view
from core.runner.launch import launch
from dashboard import figures, inside_sections, lr_find_section, workspace_sections
from dashboard.common import check_capacity, pick_run, store, warm_worker
from dashboard.train_form import settings


def start(fields: dict) -> None:
    try:
        config = TrainConfig.from_dict(fields).validate()
        check_capacity()
        # In public mode core admits the run, or says why not.
        st.session_state.train_watch = launch(store(), config, warm=warm_worker())
    except ValueError as exc:
        st.error(f"Not started: {exc}")
        return
    if store().actor is not None:
        st.rerun()  # public mode: the form above says at once that this workspace is now training


def live(run_id: str) -> None:
    view = live_view(store(), run_id)
    if view is None:
        st.info("That run was deleted.")
        return
    run = view.run
    st.progress(view.fraction, text=view.caption)
    cols = st.columns(3) + st.columns(3)
    for col, (name, label, fmt) in zip(cols, (("loss_smooth", "Loss (smoothed)", "{:.4f}"),
                                              ("train_accuracy", "Train accuracy", "{:.1%}"),
                                              ("val_accuracy", "Validation accuracy", "{:.1%}"),
                                              ("val_loss", "Validation loss", "{:.4f}")), strict=False):
        col.metric(label, fmt.format(view.latest[name]) if name in view.latest else "—")
    test = run.summary.get("test_accuracy")
    cols[4].metric("Test accuracy", f"{test:.1%}" if isinstance(test, float) else "after training")
    figures.show(figures.loss_figure(view.steps), width="stretch", key="train_loss_chart")
    figures.show(figures.accuracy_figure(view.epochs), width="stretch", key="train_acc_chart")
    if run.active:
        if store().owns(run) and st.button("Stop", key="train_stop", icon=":material/stop:",
                     help="ends the run after the current batch, keeping the weights"):
            store().request_stop(run_id)
            st.toast("Stop requested: the run ends after its current batch.")
        if store().stop_file(run_id).exists():
            st.caption("Stopping…")
    elif run.status in ("failed", "interrupted", "diverged"):
        st.error(f"Run {run.status}: {run.error}")
    else:
        why = run.summary.get("stopped_because")  # public mode's time limit
        st.success(f"Run {run.status} after {run.summary.get('epochs_completed', 0)} epochs "
                   f"in {run.summary.get('seconds', 0):.1f} s of training." + (f" {why}" if why else ""))
    starting = run.active and not run.progress.get("epochs")
    if st.session_state.get("train_live_active") and (not run.active or st.session_state.train_starting > starting):
        st.session_state.train_live_active = False
        st.rerun()  # the whole page, so the poller below polls at the pace the run now needs
    st.session_state.train_live_active = run.active


st.title("Train a digit classifier")
form, view = st.columns([1, 2], gap="large")
with form:
    fields = settings()
    refusal = workspace_sections.start_refusal(fields)  # public mode's limits; None on a laptop
    if st.button("Start training", type="primary", key="train_start", icon=":material/play_arrow:",
                 width="stretch", disabled=refusal is not None, help=refusal):
        start(fields)
    if refusal:
        st.warning(refusal)
    lr_find_section.draw(fields)

with view:
    runs = store().list_runs()
    if not runs:
        st.info("No runs yet. Press **Start training**: the guide's MLP trains in a few seconds.")
        st.stop()
    watched = pick_run(runs, key="train_watch", label="Watching")
    workspace_sections.read_only_note(watched, "train")
    st.session_state.train_live_active = watched.active
    # Poll fast until the first step is on screen (a warm worker gets there in well under a second),
    # then once a second: each refresh costs the server ~25 ms.
    st.session_state.train_starting = watched.active and not watched.progress.get("epochs")
    poll_every = (0.2 if st.session_state.train_starting else 1.0) if watched.active else None
    st.fragment(live, run_every=poll_every)(watched.id)
    # Its own fragment at 1 s: inside.pt is rewritten at most that often, and read only while its expander is open.
    st.fragment(inside_sections.live, run_every=1.0 if watched.active else None)(watched.id)
