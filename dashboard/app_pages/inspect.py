"""Inspect: what does a run's model get wrong, and why? Works on a run still training."""
import streamlit as st

from core.results import inspection
from core.store import run_files
from dashboard import inside_sections, workspace_sections
from dashboard import inspect_sections as sections
from dashboard.common import dataset, pick_run, store

st.title("Inspect a model")
runs = store().list_runs()
if not runs:
    st.info("No runs yet: train one on the **Train** page, then come back to see what it gets wrong.")
    st.stop()
run = pick_run(runs, key="inspect_run")
workspace_sections.read_only_note(run, "inspect")
stamp, source = inspection.file_mtime(store(), run.id, run_files.PREDICTIONS), inspection.dataset_source(run.config)
try:
    latest = sections.load_summary(run.id, None, stamp, source)
except ValueError as exc:
    (st.info if run.active else st.error)(str(exc))
    st.stop()
epoch = sections.epoch_slider(latest)
summary = sections.load_summary(run.id, epoch, stamp, source)
data = dataset(*source)
images = data.images[data.splits["test"]]  # uint8 (n, 28, 28), in the predictions' order

sections.headline(run, latest, summary)
sections.confusion(summary)

st.subheader("Mistakes")
shown = sections.mistakes(summary, images)

st.subheader("One digit up close")
net, checkpoint_epoch = sections.run_model(run.id)
if net is not None and shown:
    sections.close_up(summary, shown, images, net, checkpoint_epoch)

st.subheader("Learned when")
sections.learned_when(summary, images)

st.subheader("Inside the network")
inside_sections.view(run.id, "inspect_inside", epoch=epoch)

if net is None:
    st.stop()
st.subheader("Try your own digit")
sections.own_digit_tabs(net)
