"""The Train page's learning-rate finder: a range test for the form's settings, its suggestion into the form."""
import threading

import streamlit as st

from core.config import TrainConfig
from core.store.access import check_config
from core.training.lr_find import STEPS, lr_find
from dashboard import figures
from dashboard.common import dataset, store

# Settings the test replaces with its own growing rate and fixed number of steps: changing them
# after a test leaves its result valid.
IGNORED = ("lr", "epochs", "schedule")


def use(lr: float) -> None:
    """A button callback: it runs before the form's widgets exist, so it may set one."""
    st.session_state.train_lr = lr


@st.cache_resource
def one_at_a_time() -> threading.Lock:
    """The test runs in the server process and sets torch's thread count while it runs: one test at a time, so
    many visitors pressing the button queue up instead of sharing the cores and each other's thread setting."""
    return threading.Lock()


def find(fields: dict) -> None:
    """Run the test (a few seconds of CPU) and keep its result, so later reruns only redraw it."""
    try:
        config = TrainConfig.from_dict(fields).validate()
        if store().actor is not None:  # public mode: no bigger a model or batch than a run may have
            check_config(config, store().actor.limits)
        with st.spinner(f"Training a fresh model for {STEPS} steps while the learning rate grows…"), one_at_a_time():
            result = lr_find(config, dataset(config.dataset, config.val_fraction, config.data_dir))
    except (ValueError, OSError) as exc:
        st.session_state.pop("train_lr_found", None)
        st.error(f"No learning rate found: {exc}")
        return
    st.session_state.train_lr_found = {"fields": fields, "result": result}


def relevant(fields: dict) -> dict:
    return {name: value for name, value in fields.items() if name not in IGNORED}


def draw(fields: dict) -> None:
    """The button, and the last result: its chart, the rule, and a button that puts the suggestion in the form."""
    if st.button("Find a learning rate", key="train_lr_find", icon=":material/search_insights:", width="stretch",
                 help=f"a range test: {STEPS} steps of a fresh model of these settings while the learning rate grows "
                      "from 1e-7 to 10; nothing is recorded"):
        find(fields)
    found = st.session_state.get("train_lr_found")
    if not found:
        return
    result = found["result"]
    figures.show(figures.lr_find_figure(result.lr, result.loss, result.raw_loss, result.suggested_lr),
                 key="train_lr_chart", width="stretch")
    if relevant(found["fields"]) != relevant(fields):
        st.caption("This curve is for earlier settings: press **Find a learning rate** again for the ones above.")
    if result.suggested_lr is None:
        st.warning("No suggestion: the loss broke down within the first steps, before it could fall.")
        return
    suggestion = float(f"{result.suggested_lr:.2g}")
    st.caption(f"Suggested: **{suggestion:g}**, a tenth of the learning rate where the smoothed loss was lowest "
               "(the circle): there larger steps stop helping, so a tenth of it learns fast and stays stable.")
    st.button(f"Use {suggestion:g}", key="train_lr_use", on_click=use, args=(suggestion,), width="stretch",
              help="puts it in the form's Learning rate")
