"""Sweeps: train many configs and seeds as ordinary runs, queued under the run cap, and compare them honestly."""
import time

import streamlit as st

from core.sweep.control import scheduler_log
from dashboard.common import store
from dashboard.sweep_form import new_sweep, show_flash, sweeps_list
from dashboard.sweep_sections import describe, view

st.title("Sweeps")
if store().actor is not None:
    st.info("Sweeps and the speed-up ladder train many runs at once, so this public deployment does not offer "
            "them. Run Digit Lab on your own machine (`make run`) to try them.")
    st.stop()
st.caption("Pick fields and values; every combination (or random draws) trains once per seed as an ordinary run, "
           "tagged with the sweep, watchable on the Train page. A scheduler process of its own queues them so "
           "the cap on runs training at once always holds, and keeps going if this app restarts.")
sweeps = sweeps_list()
with st.expander("New sweep", expanded=not sweeps, icon=":material/add:"):
    new_sweep()
show_flash()
sweeps = sweeps_list()  # again: Start may have just added one
if not sweeps:
    st.info("No sweeps yet. Open **New sweep** above: two learning rates × two seeds of the guide's MLP take "
            "under a minute.")
    st.stop()
by_id = {sweep.id: sweep for sweep in sweeps}
if st.session_state.get("sweeps_selected") not in by_id:
    st.session_state.sweeps_selected = sweeps[0].id


def label(sweep_id: str) -> str:
    sweep = by_id[sweep_id]
    created = time.strftime("%b %d %H:%M", time.localtime(sweep.created))
    return f"{sweep.name} · {describe(sweep)} · {created}"


chosen = st.selectbox("Sweep", list(by_id), key="sweeps_selected", format_func=label)
st.caption(f"Its runs carry the tag `sweep:{chosen}` on the Runs page. Scheduler log: "
           f"`{scheduler_log(store(), chosen)}`.")
st.session_state.sweep_live = by_id[chosen].active
st.fragment(view, run_every=2.0 if by_id[chosen].active else None)(chosen)
