"""The Train page's settings form: presets, widgets, and keeping the choices across pages."""
from dataclasses import fields

import streamlit as st

from core.config import OPTIMIZERS, PRECISIONS, PRESETS, SAMPLINGS, SCHEDULES, TrainConfig
from core.data.digits import default_data_dir
from core.devices import list_devices
from dashboard.common import datasets, store

FORM_FIELDS = ("dataset", "model", "hidden", "channels", "activation", "dropout", "optimizer", "lr", "weight_decay",
               "batch_size", "epochs", "val_fraction", "sampling", "schedule", "seed", "device", "threads", "augment",
               "precision", "compile")
PRESET_FIELDS = ("model", "hidden", "channels", "activation", "dropout", "optimizer", "lr", "batch_size", "epochs",
                 "sampling", "augment", "schedule")


def widget_values(config: TrainConfig) -> dict:
    """A preset as the form's widget values (sizes as the comma-separated text the form shows)."""
    config = config.validate()
    values = {name: getattr(config, name) for name in PRESET_FIELDS}
    values["hidden"], values["channels"] = ",".join(map(str, config.hidden)), ",".join(map(str, config.channels))
    return {f"train_{name}": value for name, value in values.items()}


GUIDE_PRESET, CNN_PRESET = widget_values(PRESETS["guide-mlp"]), widget_values(PRESETS["small-cnn"])
DEFAULTS = {**GUIDE_PRESET, "train_weight_decay": 0.0, "train_val_fraction": 0.1,
            "train_seed": 0, "train_device": "auto", "train_threads": 0, "train_dataset": "embedded",
            "train_precision": "fp32", "train_compile": False}


def remember() -> None:
    """Keep the form's values while another page is shown.

    Streamlit forgets a widget's value when a script run does not draw it; copying the
    values to themselves each run (from app.py, which runs for every page) turns them
    into plain session state that survives, and seeds the defaults on a first visit.
    """
    for key, value in DEFAULTS.items():
        st.session_state[key] = st.session_state.get(key, value)


def apply_preset(preset: dict) -> None:
    st.session_state.update(preset)


def form_maxima() -> tuple[int, int]:
    """The most epochs and the largest batch the form offers: this server's limits in public mode."""
    actor = store().actor
    return (actor.limits.epochs, actor.limits.batch_size) if actor else (1000, 65536)


def fill_from(config: dict) -> None:
    """A run's settings on the form (a button callback: it runs before the widgets exist).

    Device and threads go back to automatic: the run may come from another machine. In public
    mode epochs and batch size are lowered to this server's limits; the message says so."""
    known = {item.name for item in fields(TrainConfig)}
    copied = TrainConfig.from_dict({key: value for key, value in config.items() if key in known}
                                   | {"device": "auto", "threads": 0, "data_dir": ""}).validate()
    values = {name: getattr(copied, name) for name in FORM_FIELDS}
    values["hidden"], values["channels"] = ",".join(map(str, copied.hidden)), ",".join(map(str, copied.channels))
    most_epochs, largest_batch = form_maxima()
    lowered = [f"{name} {values[name]:,} → {most:,}" for name, most in (("epochs", most_epochs),
                                                                          ("batch_size", largest_batch))
               if values[name] > most]
    values["epochs"], values["batch_size"] = min(values["epochs"], most_epochs), min(values["batch_size"],
                                                                                      largest_batch)
    st.session_state.update({f"train_{name}": value for name, value in values.items()})
    st.session_state.train_copied = "Settings copied to the Train form" + (
        f" (lowered to this server's limits: {', '.join(lowered)})." if lowered else ".")


def settings() -> dict:
    """The widgets; returns config fields as typed (validated by TrainConfig, not here)."""
    remember()  # seeds defaults when the page runs on its own (AppTest), a no-op otherwise
    st.button("The guide's MLP: 784-50-10, Adam, 5 epochs", on_click=apply_preset, args=(GUIDE_PRESET,),
              width="stretch", key="train_preset_guide")
    st.button("A small CNN: ≈98 % in under a minute", on_click=apply_preset, args=(CNN_PRESET,),
              width="stretch", key="train_preset_cnn")
    left, right = st.columns(2)
    choices = dict(datasets(default_data_dir()))
    if st.session_state.train_dataset not in choices:
        st.session_state.train_dataset = "embedded"
    left.selectbox("Dataset", list(choices), key="train_dataset", format_func=choices.get,
                   help="Add more on the Data page: MNIST family downloads and your own zip of digits")
    right.selectbox("Model", ["mlp", "cnn"], key="train_model")
    left.text_input("Hidden layer sizes", key="train_hidden", help="comma-separated, e.g. 128,64 (CNN: dense layer)")
    right.text_input("CNN channels", key="train_channels", disabled=st.session_state.train_model != "cnn")
    left.selectbox("Activation", ["relu", "tanh", "sigmoid", "gelu"], key="train_activation")
    right.number_input("Dropout", 0.0, 0.9, step=0.05, key="train_dropout")
    left.selectbox("Optimizer", OPTIMIZERS, key="train_optimizer")
    right.number_input("Learning rate", min_value=0.0, step=1e-4, format="%g", key="train_lr")
    most_epochs, largest_batch = form_maxima()
    st.session_state.train_epochs = min(st.session_state.train_epochs, most_epochs)  # a preset may ask for more
    st.session_state.train_batch_size = min(st.session_state.train_batch_size, largest_batch)
    left.number_input("Batch size", 1, largest_batch, key="train_batch_size")
    right.number_input("Epochs", 1, most_epochs, key="train_epochs")
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
        left.selectbox("Precision", PRECISIONS, key="train_precision",
                       help="bf16: the forward pass under bfloat16 autocast, weights kept in fp32. Fast on recent "
                            "GPUs; on most CPUs slower than fp32")
        right.checkbox("torch.compile", key="train_compile",
                       help="Compile the model first: the first steps take tens of seconds, later ones run "
                            "faster, mostly on a GPU. On a CPU it needs a C++ compiler")
    return {name: st.session_state[f"train_{name}"] for name in FORM_FIELDS} | {
        "data_dir": str(default_data_dir().resolve())}
