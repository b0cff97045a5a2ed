"""The sidebar every page shares: where runs are kept and what is training now; in public mode, whose."""
import streamlit as st

from dashboard import workspace_sections
from dashboard.common import max_concurrent_runs, store


@st.fragment(run_every=3)
def run_counts() -> None:
    """Polled on its own, so a run started on any page or in a shell shows up within seconds."""
    bound = store()
    if bound.actor is not None:  # public mode: only this workspace's own runs are counted
        runs = bound.owned_runs()
        active = sum(run.active for run in runs)
        count = f"{len(runs)} run" + ("" if len(runs) == 1 else "s")
        st.caption(f"Your workspace: {count} · {active}/{bound.actor.limits.runs_per_workspace} training now")
        return
    runs = bound.list_runs()
    active = sum(run.active for run in runs)
    st.caption(f"Run store: `{bound.root}` · {len(runs)} runs · {active}/{max_concurrent_runs()} training now")


def draw() -> None:
    with st.sidebar:
        run_counts()
        workspace_sections.sidebar_box()
