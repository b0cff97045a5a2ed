"""What to train: ``TrainConfig``, the presets, and building the model a config describes.

A config is validated once (:meth:`TrainConfig.validate` names the bad field and its range),
saved with every run as JSON, and rebuilt from that dict with :meth:`TrainConfig.from_dict`.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from core.devices import list_devices
from core.models import ACTIVATIONS, MODELS, build_model

OPTIMIZERS = ("sgd", "sgd-momentum", "adam", "adamw", "rmsprop")
SAMPLINGS = ("shuffle", "replacement")
SCHEDULES = ("constant", "cosine", "onecycle")
PRECISIONS = ("fp32", "bf16")  # bf16: autocast of forward + loss; weights and optimizer stay fp32
# tensors: uint8 digits preloaded, batches sliced by index; dataloader: the tutorial's per-sample PIL Dataset +
# DataLoader, kept so the speed-up ladder can time what the preloaded tensors save
LOADERS = ("tensors", "dataloader")
PRESET_HIDDEN = {"mlp": (50,), "cnn": (64,)}


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "embedded"  # "embedded" (offline MNIST 5k), "mnist", "fashion-mnist", "kmnist", or a guide zip
    model: str = "mlp"  # "mlp" or "cnn"
    hidden: tuple[int, ...] = ()  # () = the model's preset: (50,) is the guide's 784-50-10; (64,) for the CNN
    channels: tuple[int, int] = (8, 16)  # CNN conv channels: small enough to train live on a laptop CPU
    activation: str = "relu"
    dropout: float = 0.0
    optimizer: str = "adam"  # the guide's choice
    lr: float = 1e-3  # Adam's usual default, the guide's value
    momentum: float = 0.9  # for sgd-momentum and rmsprop
    weight_decay: float = 0.0
    batch_size: int = 128  # the guide's
    epochs: int = 5  # the guide's
    val_fraction: float = 0.1  # of the digits left after the fixed 20 % test split
    sampling: str = "shuffle"  # a fresh permutation each epoch; "replacement" is the guide's way
    augment: bool = False  # random small shifts/rotations of training digits
    schedule: str = "constant"  # learning-rate schedule over all steps
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda:0", ..., "mps"
    threads: int = 0  # CPU threads; 0 = choose for this model on this machine
    log_every: int = 10  # steps between points on the loss curve
    precision: str = "fp32"  # "bf16": forward and loss under bfloat16 autocast (fast on recent GPUs)
    compile: bool = False  # torch.compile the model: slow first steps, then faster ones (mostly on a GPU)
    loader: str = "tensors"  # how batches are made: see LOADERS
    channels_last: bool = True  # CNN only: NHWC memory layout, ~2x faster convolutions on x86 CPUs
    inside: bool = True  # record weights, gradients and activations each epoch (core/inside): ~3-4 % of an epoch
    data_dir: str = ""  # datasets and caches; "" = $DIGITLAB_DATA_DIR or ./data

    def validate(self) -> "TrainConfig":
        """Check every field once; return the config with presets filled in."""
        _check_choice("model", self.model, MODELS)
        hidden = tuple(self.hidden) or PRESET_HIDDEN[self.model]
        if not 1 <= len(hidden) <= 4:
            raise ValueError(f"hidden must list 1 to 4 layer sizes, got {list(hidden)}")
        for size in hidden:
            _check_int("hidden", size, 1, 4096)
        channels = tuple(self.channels)
        if len(channels) != 2:
            raise ValueError(f"channels must be two numbers (first and second conv layer), got {list(channels)}")
        for size in channels:
            _check_int("channels", size, 1, 256)
        _check_choice("activation", self.activation, tuple(ACTIVATIONS))
        _check_float("dropout", self.dropout, 0.0, 0.9)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_float("lr", self.lr, 1e-7, 10.0)
        _check_float("momentum", self.momentum, 0.0, 0.999)
        _check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_int("batch_size", self.batch_size, 1, 65536)
        _check_int("epochs", self.epochs, 1, 1000)
        _check_float("val_fraction", self.val_fraction, 0.0, 0.5)
        _check_choice("sampling", self.sampling, SAMPLINGS)
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be true or false, got {self.augment!r}")
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        devices = ["auto"] + [d.id for d in list_devices()] + (["cuda"] if torch.cuda.is_available() else [])
        _check_choice("device", self.device, tuple(devices))
        _check_int("threads", self.threads, 0, 256)
        _check_int("log_every", self.log_every, 1, 10_000)
        _check_choice("precision", self.precision, PRECISIONS)
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile must be true or false, got {self.compile!r}")
        _check_choice("loader", self.loader, LOADERS)
        if not isinstance(self.channels_last, bool):
            raise ValueError(f"channels_last must be true or false, got {self.channels_last!r}")
        if not isinstance(self.inside, bool):
            raise ValueError(f"inside must be true or false, got {self.inside!r}")
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise ValueError("dataset must name a dataset (e.g. 'embedded') or a guide-format zip/folder")
        return replace(self, hidden=tuple(int(h) for h in hidden), channels=tuple(int(c) for c in channels),
                       lr=float(self.lr), momentum=float(self.momentum), dropout=float(self.dropout),
                       weight_decay=float(self.weight_decay), val_fraction=float(self.val_fraction))

    def to_dict(self) -> dict:
        values = asdict(self)
        values["hidden"], values["channels"] = list(self.hidden), list(self.channels)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; known fields: {sorted(known)}")
        values = dict(values)
        for key in ("hidden", "channels"):
            if key in values:
                values[key] = _as_int_tuple(key, values[key])
        return cls(**values)
# One click away on the Train page, and what the benchmark measures.
PRESETS = {
    "guide-mlp": TrainConfig(),  # the guide's 784-50-10 MLP, Adam lr 1e-3, batch 128, 5 epochs
    # ≈98 % test accuracy on the embedded digits in seconds on a laptop CPU (benchmarks/RESULTS.md)
    "small-cnn": TrainConfig(model="cnn", lr=3e-3, epochs=15, augment=True, schedule="onecycle"),
}


FLAG_HELP = {
    "dataset": "embedded, mnist, fashion-mnist, kmnist, or a guide-format zip/folder",
    "model": "mlp or cnn",
    "hidden": "hidden layer sizes, comma-separated (empty = preset: 50 for mlp, 64 for cnn)",
    "channels": "CNN conv channels, two comma-separated numbers",
    "optimizer": ", ".join(OPTIMIZERS),
    "sampling": "shuffle (each sample once per epoch) or replacement (the guide's random draws)",
    "schedule": ", ".join(SCHEDULES),
    "device": "auto, cpu, cuda:N or mps",
    "threads": "CPU threads; 0 = choose automatically",
    "precision": "fp32, or bf16 (bfloat16 autocast of the forward pass; fast on recent GPUs)",
    "compile": "torch.compile the model (slow first steps; a C++ compiler on CPU)",
    "loader": "tensors (preloaded uint8 digits sliced by index) or dataloader (the tutorial's per-sample PIL "
              "Dataset + DataLoader: slower, kept to measure the difference)",
    "channels_last": "CNN only: NHWC memory layout, faster convolutions (--no-channels-last to compare)",
    "inside": "record per-layer norms, update ratios and dead units every epoch, and histograms, a 2-D map of the "
              "last hidden layer and first-layer images at epochs 1, 2, 4, 8, ... (python -m core.inside shows them)",
}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (``--batch-size``; ``--augment/--no-augment``), then ``--config FILE``.

    Every flag defaults to None, meaning "not given", so :func:`config_from_flags` can layer
    flags over a config file and a parent run's config.
    """
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        flag, default = "--" + f.name.replace("_", "-"), getattr(defaults, f.name)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f"{FLAG_HELP.get(f.name, f.name.replace('_', ' '))} (default: {shown if shown != '' else 'preset'})"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif isinstance(default, tuple):
            parser.add_argument(flag, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=type(default), default=None, help=help_text)
    parser.add_argument("--config", help="JSON file of config fields; flags given override it (default: none)")


def config_from_flags(args: argparse.Namespace, base: dict | None = None) -> TrainConfig:
    """``base`` (a parent run's config) < ``--config`` file < flags given on the command line."""
    values: dict = dict(base or {})
    if args.config:
        try:
            loaded = json.loads(open(args.config).read())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"--config {args.config}: cannot read a JSON object ({exc})") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"--config {args.config} must hold a JSON object of config fields")
        values.update(loaded)
    values.update({f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name) is not None})
    return TrainConfig.from_dict(values).validate()


def model_from_config(config: TrainConfig) -> nn.Module:
    """A freshly initialised model of the config's architecture (seed the RNG first for repeatability)."""
    return build_model(config.model, config.hidden, config.channels, config.activation, config.dropout)


def _as_int_tuple(name: str, value) -> tuple:
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"{name} must be whole numbers separated by commas, e.g. 128,64; got {value!r}") from None
    if isinstance(value, int):
        return (value,)
    return tuple(value)


def _check_choice(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value}")


def _check_float(name: str, value, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low:g} to {high:g}, got {value:g}")
