"""The sidebar every page shares: where runs are kept and what is training now."""
import streamlit as st

from dashboard.common import max_concurrent_runs, store


def draw() -> None:
    with st.sidebar:
        runs = store().list_runs()
        active = [run for run in runs if run.active]
        st.caption(f"Run store: `{store().root}` · {len(runs)} runs · "
                   f"{len(active)}/{max_concurrent_runs()} training now")
