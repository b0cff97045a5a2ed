"""Train: choose a model and hyperparameters, start a worker, watch it learn live."""
import streamlit as st

from core.devices import list_devices
from core.live import live_view
from core.sources import default_data_dir, list_datasets
from core.train import OPTIMIZERS, SAMPLINGS, SCHEDULES, TrainConfig
from core.worker import launch
from dashboard import charts
from dashboard.common import max_concurrent_runs, pick_run, store

GUIDE_PRESET = {"train_model": "mlp", "train_hidden": "50", "train_activation": "relu", "train_dropout": 0.0,
                "train_optimizer": "adam", "train_lr": 1e-3, "train_batch_size": 128, "train_epochs": 5,
                "train_sampling": "shuffle", "train_augment": False, "train_schedule": "constant"}
CNN_PRESET = {"train_model": "cnn", "train_hidden": "64", "train_channels": "8,16", "train_optimizer": "adam",
              "train_lr": 3e-3, "train_batch_size": 128, "train_epochs": 15, "train_augment": True,
              "train_schedule": "onecycle"}
DEFAULTS = {**GUIDE_PRESET, "train_channels": "8,16", "train_weight_decay": 0.0, "train_val_fraction": 0.1,
            "train_seed": 0, "train_device": "auto", "train_threads": 0, "train_dataset": "embedded"}
for key, value in DEFAULTS.items():
    st.session_state.setdefault(key, value)


def apply_preset(preset: dict) -> None:
    st.session_state.update(preset)


def settings() -> dict:
    """The widgets; returns config fields as typed (validated by TrainConfig, not here)."""
    st.button("The guide's MLP: 784-50-10, Adam, 5 epochs", on_click=apply_preset, args=(GUIDE_PRESET,),
              width="stretch", key="train_preset_guide")
    st.button("A small CNN: ≈98 % in under a minute", on_click=apply_preset, args=(CNN_PRESET,),
              width="stretch", key="train_preset_cnn")
    left, right = st.columns(2)
    datasets = dict(list_datasets(default_data_dir()))
    if st.session_state.train_dataset not in datasets:
        st.session_state.train_dataset = "embedded"
    left.selectbox("Dataset", list(datasets), key="train_dataset", format_func=datasets.get,
                   help="Add more on the Data page: MNIST family downloads and your own zip of digits")
    right.selectbox("Model", ["mlp", "cnn"], key="train_model")
    left.text_input("Hidden layer sizes", key="train_hidden", help="comma-separated, e.g. 128,64 (CNN: dense layer)")
    right.text_input("CNN channels", key="train_channels", disabled=st.session_state.train_model != "cnn")
    left.selectbox("Activation", ["relu", "tanh", "sigmoid", "gelu"], key="train_activation")
    right.number_input("Dropout", 0.0, 0.9, step=0.05, key="train_dropout")
    left.selectbox("Optimizer", OPTIMIZERS, key="train_optimizer")
    right.number_input("Learning rate", min_value=0.0, step=1e-4, format="%g", key="train_lr")
    left.number_input("Batch size", 1, 65536, key="train_batch_size")
    right.number_input("Epochs", 1, 1000, key="train_epochs")
    with st.expander("More settings"):
        left, right = st.columns(2)
        left.number_input("Weight decay", min_value=0.0, step=1e-4, format="%g", key="train_weight_decay")
        right.number_input("Validation fraction", 0.0, 0.5, step=0.05, key="train_val_fraction")
        left.selectbox("Sampling", SAMPLINGS, key="train_sampling", help="shuffle: every digit once per epoch; "
                       "replacement: the guide's random draws (≈63 % of digits seen per epoch)")
        right.selectbox("LR schedule", SCHEDULES, key="train_schedule")
        devices = {d.id: d.label for d in list_devices()}
        left.selectbox("Device", ["auto", *devices], key="train_device", format_func=lambda d: devices.get(d, "auto"))
        right.number_input("CPU threads (0 = auto)", 0, 256, key="train_threads")
        left.number_input("Seed", 0, 2**31 - 1, key="train_seed")
        right.checkbox("Augment (shift/rotate)", key="train_augment")
    names = ("dataset", "model", "hidden", "channels", "activation", "dropout", "optimizer", "lr", "weight_decay",
             "batch_size", "epochs", "val_fraction", "sampling", "schedule", "seed", "device", "threads", "augment")
    return {name: st.session_state[f"train_{name}"] for name in names} | {"data_dir": str(default_data_dir().resolve())}


def start(fields: dict) -> None:
    try:
        config = TrainConfig.from_dict(fields).validate()
    except ValueError as exc:
        st.error(f"Not started: {exc}")
        return
    if len(store().active_runs()) >= max_concurrent_runs():
        st.warning(f"{max_concurrent_runs()} runs are training already, the most this app allows at once "
                   "(set DIGITLAB_MAX_RUNS to change it). Stop one or wait for it to finish.")
        return
    st.session_state.train_watch = launch(store(), config)


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
                                              ("val_loss", "Validation loss", "{:.4f}"))):
        col.metric(label, fmt.format(view.latest[name]) if name in view.latest else "—")
    test = run.summary.get("test_accuracy")
    cols[4].metric("Test accuracy", f"{test:.1%}" if isinstance(test, float) else "after training")
    st.plotly_chart(charts.loss_figure(view.steps), width="stretch", key="train_loss_chart")
    st.plotly_chart(charts.accuracy_figure(view.epochs), width="stretch", key="train_acc_chart")
    if run.active:
        if st.button("Stop", key="train_stop", icon=":material/stop:", help="ends the run after the current batch, keeping the weights"):
            store().request_stop(run_id)
            st.toast("Stop requested: the run ends after its current batch.")
        if store().stop_file(run_id).exists():
            st.caption("Stopping…")
    elif run.status in ("failed", "interrupted", "diverged"):
        st.error(f"Run {run.status}: {run.error}")
    else:
        st.success(f"Run {run.status} after {run.summary.get('epochs_completed', 0)} epochs "
                   f"in {run.summary.get('seconds', 0):.1f} s of training.")
    if st.session_state.get("train_live_active") and not run.active:
        st.session_state.train_live_active = False
        st.rerun()  # the whole page, so the poller below stops polling a finished run
    st.session_state.train_live_active = run.active


st.title("Train a digit classifier")
form, view = st.columns([1, 2], gap="large")
with form:
    fields = settings()
    if st.button("Start training", type="primary", key="train_start", icon=":material/play_arrow:",
                 width="stretch"):
        start(fields)

with view:
    runs = store().list_runs()
    if not runs:
        st.info("No runs yet. Press **Start training**: the guide's MLP trains in a few seconds.")
        st.stop()
    watched = pick_run(runs, key="train_watch", label="Watching")
    st.session_state.train_live_active = watched.active
    st.fragment(live, run_every=1.0 if watched.active else None)(watched.id)
