"""Speed-up ladder: the seconds the CNN takes to reach 97 % test accuracy, one known speed-up at a time."""
import time

import streamlit as st

from core.sweep.ladder import BASE, SEEDS, TARGET, rungs
from dashboard.common import store
from dashboard.ladder_sections import ladders, start, view

st.title("Speed-up ladder")
if store().actor is not None:
    st.info("Sweeps and the speed-up ladder train many runs at once, so this public deployment does not offer "
            "them. Run Digit Lab on your own machine (`make run`) to try them.")
    st.stop()
st.markdown(
    f"How long does the CNN take to reach **{TARGET:.0%} test accuracy** on the embedded digits? Each rung "
    "below switches on one known speed-up on top of the rungs before it, and trains for real: "
    f"{len(SEEDS)} runs per rung (seeds {', '.join(map(str, SEEDS))}), one at a time, {BASE.epochs} epochs, "
    f"{BASE.threads} CPU thread. The rungs change exactly one setting each, so each bar's change has one cause.")
ladder = rungs()
st.caption("Rungs on this machine: " + " → ".join(rung.name for rung in ladder) +
           ("" if len(ladder) > 5 else ". bf16 autocast and torch.compile join on a machine with a GPU."))
existing = ladders()
running = any(sweep.active for sweep in existing)
st.button("Run the ladder", type="primary", key="ladder_start", icon=":material/play_arrow:", on_click=start,
          disabled=running, help="one ladder at a time" if running else
          f"{len(ladder) * len(SEEDS)} runs; about two minutes on a 2-core laptop")
if "ladder_flash" in st.session_state:
    st.error(st.session_state.pop("ladder_flash"))
existing = ladders()
if not existing:
    st.info("No ladder yet: press **Run the ladder** (or run `make bench`, which includes it).")
    st.stop()
by_id = {sweep.id: sweep for sweep in existing}
if st.session_state.get("ladder_selected") not in by_id:
    st.session_state.ladder_selected = existing[0].id
chosen = st.selectbox("Ladder", list(by_id), key="ladder_selected", format_func=lambda ladder_id: (
    f"{time.strftime('%b %d %H:%M', time.localtime(by_id[ladder_id].created))} · {by_id[ladder_id].status}"))
st.session_state.ladder_live = by_id[chosen].active
st.fragment(view, run_every=2.0 if by_id[chosen].active else None)(chosen)
