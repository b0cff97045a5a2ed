"""The Sweeps page's form: which fields to vary and their values, seeds, grid or random, and Start."""
import streamlit as st

from core.config import TrainConfig
from core.data.digits import default_data_dir
from core.store.sweep_store import SweepStore
from core.sweep.control import create_sweep, resume_sweep, start_scheduler
from core.sweep.plan import default_jobs, expand, run_count, spec_from_text
from dashboard import train_form
from dashboard.common import max_concurrent_runs, store

# The fields a learner varies most, first; every other field can be picked too.
SUGGESTED = {"lr": ("0.001,0.003", "0.0001:0.01"), "batch_size": ("64,128", "32:512"),
             "hidden": ("50,100", "50,100,128-64"), "optimizer": ("adam,sgd-momentum", "adam,adamw,sgd-momentum"),
             "dropout": ("0,0.2", "0:0.5"), "weight_decay": ("0,0.0001", "0.00001:0.01"), "epochs": ("5", "5"),
             "model": ("mlp,cnn", "mlp,cnn"), "schedule": ("constant,onecycle", "constant,cosine,onecycle")}
OTHER = ("activation", "momentum", "channels", "augment", "sampling", "val_fraction", "dataset")
MODES = {"grid": "Every combination", "random": "Random samples"}


def base_config() -> dict:
    """The Train page's current settings: every run of the sweep starts from them."""
    train_form.remember()
    fields = {key.removeprefix("train_"): st.session_state[key] for key in train_form.DEFAULTS}
    return fields | {"data_dir": str(default_data_dir().resolve())}


def seed_values(field: str, mode: str) -> None:
    key = f"sweep_values_{field}"
    if key not in st.session_state:
        st.session_state[key] = SUGGESTED.get(field, ("", ""))[mode == "random"] or \
            str(TrainConfig().to_dict()[field]).replace(", ", "-").strip("[]()")


def read_spec():
    """The spec the widgets describe, or raise ValueError saying what to fix."""
    mode, fields = st.session_state.sweep_mode, st.session_state.sweep_fields
    if not fields:
        raise ValueError("pick at least one field to vary")
    texts = {field: st.session_state[f"sweep_values_{field}"] for field in fields}
    samples = int(st.session_state.sweep_samples) if mode == "random" else 0
    return spec_from_text(texts, st.session_state.sweep_seeds, samples, base=base_config())


def start() -> None:
    try:
        spec = read_spec()
        sweep_id = create_sweep(store(), spec, st.session_state.sweep_name)
        start_scheduler(store(), sweep_id)
    except ValueError as exc:
        st.session_state.sweep_flash = ("error", f"Not started: {exc}")
        return
    st.session_state.sweeps_selected = sweep_id
    st.session_state.sweep_flash = ("success", f"Sweep {sweep_id} queued: its runs start as the cap allows.")


def new_sweep() -> None:
    st.caption("Every run starts from the Train page's settings; the fields picked here take each value given.")
    left, right = st.columns([2, 1])
    left.multiselect("Fields to vary", [*SUGGESTED, *OTHER], default=["lr"], key="sweep_fields")
    right.radio("Which configs", list(MODES), format_func=MODES.get, key="sweep_mode", horizontal=True)
    mode = st.session_state.sweep_mode
    for field in st.session_state.sweep_fields:
        seed_values(field, mode)
        st.text_input(field, key=f"sweep_values_{field}", help="comma-separated values; one value of a list field "
                      "joins its numbers with '-' (128-64)" + ("; low:high draws from a range" if mode == "random"
                                                              else ""))
    left, middle, right = st.columns(3)
    left.text_input("Seeds", "0,1", key="sweep_seeds", help="each config trains once per seed: the spread between "
                    "seeds is the noise any difference must beat")
    middle.number_input("Random samples", 1, 200, 8, key="sweep_samples", disabled=mode != "random")
    right.text_input("Name", "", key="sweep_name", placeholder="optional")
    try:
        planned = expand(spec := read_spec())
        jobs = min(default_jobs([config for _, config in planned]), max_concurrent_runs())
        st.caption(f"{run_count(spec)} runs ({run_count(spec) // len(spec.seeds)} configs × {len(spec.seeds)} "
                   f"seeds), at most {jobs} training at once.")
        ready = True
    except ValueError as exc:
        st.warning(str(exc))
        ready = False
    st.button("Start sweep", type="primary", key="sweep_start", icon=":material/play_arrow:", on_click=start,
              disabled=not ready)


def show_flash() -> None:
    if "sweep_flash" in st.session_state:
        level, text = st.session_state.pop("sweep_flash")
        getattr(st, level)(text)


def sweeps_list(kind: str = "sweep"):
    return SweepStore(store()).list_sweeps(kind)


@st.cache_resource(show_spinner=False)
def _resumed(root: str) -> list[str]:
    """Once per server and store: restart the scheduler of every sweep whose scheduler died (a machine restart,
    a killed process), so a restarted dashboard finishes it. Sweeps stopped on purpose stay stopped."""
    resumed = []
    for sweep in SweepStore(store()).list_sweeps():
        if sweep.status == "interrupted":
            resume_sweep(store(), sweep.id)
            resumed.append(sweep.id)
    return resumed


def resume_interrupted() -> None:
    if store().actor is None:  # public mode offers no sweeps (core refuses them)
        _resumed(str(store().root.resolve()))
