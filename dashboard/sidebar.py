"""The sidebar every page shares: where runs are kept and what is training now."""
import streamlit as st

from dashboard.common import max_concurrent_runs, store


@st.fragment(run_every=3)
def run_counts() -> None:
    """Polled on its own, so a run started on any page or in a shell shows up within seconds."""
    runs = store().list_runs()
    active = sum(run.active for run in runs)
    st.caption(f"Run store: `{store().root}` · {len(runs)} runs · {active}/{max_concurrent_runs()} training now")


def draw() -> None:
    with st.sidebar:
        run_counts()
