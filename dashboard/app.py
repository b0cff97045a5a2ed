"""Digit Lab: the router and the shared sidebar. Every page lives in app_pages/."""
import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repository root;
# this one line makes `core` importable for every page (they run in this process).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402

from dashboard import common, sidebar, sweep_form, train_form  # noqa: E402

st.set_page_config(page_title="Digit Lab", page_icon=str(Path(__file__).parent / "icon.png"), layout="wide")

PAGES = {
    "Digits": [
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", default=True),
        st.Page("app_pages/inspect.py", title="Inspect", icon=":material/search:"),
        st.Page("app_pages/runs.py", title="Runs", icon=":material/history:"),
        st.Page("app_pages/sweeps.py", title="Sweeps", icon=":material/tune:"),
        st.Page("app_pages/ladder.py", title="Speed-up ladder", icon=":material/speed:"),
        st.Page("app_pages/data.py", title="Data", icon=":material/dataset:"),
    ],
    "Learn PyTorch": [
        st.Page("app_pages/learn_tensors.py", title="Tensors", icon=":material/grid_on:"),
        st.Page("app_pages/learn_autograd.py", title="Autograd", icon=":material/function:"),
        st.Page("app_pages/learn_optimizers.py", title="Optimizers", icon=":material/landscape:"),
        st.Page("app_pages/learn_nn.py", title="nn.Module", icon=":material/layers:"),
        st.Page("app_pages/learn_numpy_vs_torch.py", title="NumPy vs PyTorch", icon=":material/compare:"),
        st.Page("app_pages/learn_data_loading.py", title="Data loading", icon=":material/shuffle:"),
    ],
}

common.warm_worker()  # started with the app, so it is warm by the first Start click
train_form.remember()
sweep_form.resume_interrupted()  # once per server: a sweep whose scheduler died goes on
sidebar.draw()
st.navigation(PAGES).run()
