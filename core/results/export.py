"""A run's results as files other tools read: metrics CSV, config JSON, TorchScript, ONNX, TensorBoard.

Every function here builds its bytes in memory on request; the dashboard calls them only
when a user asks for the download, so browsing runs never pays for an export.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from core.data.catalog import load_dataset
from core.results.submission_csv import predict_images, write_submission
from core.store import run_files
from core.store.run_store import Run, RunStore, load_run_model

ONNX_HINT = "ONNX export needs the onnx package: pip install onnx onnxruntime"
TENSORBOARD_HINT = "TensorBoard export needs the tensorboard package: pip install tensorboard"
EXAMPLE_SHAPE = (1, 1, 28, 28)  # one normalised digit, what every model here takes
METRICS_HEADER = ("name", "step", "epoch", "value")


@dataclass(frozen=True)
class Download:
    """One file a run offers; ``build`` makes its bytes only when called (when the user clicks)."""

    key: str
    label: str
    filename: str
    mime: str
    build: Callable[[], bytes | str]
    needs_checkpoint: bool = False
    help: str | None = None


def _existing_run(store: RunStore, run_id: str) -> Run:
    run = store.get(run_id)
    if run is None:
        raise ValueError(f"Run {run_id} does not exist (deleted?). Pick another run.")
    return run


def metrics_csv(store: RunStore, run_id: str) -> str:
    """Every metric row of a run, long format: name,step,epoch,value (sorted by name, then step)."""
    _existing_run(store, run_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(METRICS_HEADER)
    for name, series in store.metrics(run_id).items():
        writer.writerows((name, step, epoch, repr(value))  # repr: full float precision, round-trips
                         for step, epoch, value in zip(series["step"], series["epoch"], series["value"]))
    return out.getvalue()


def config_json(run: Run) -> str:
    """The run's TrainConfig as saved, pretty-printed; ``python -m core.train --config`` reads it back."""
    return json.dumps(run.config, indent=2, sort_keys=False) + "\n"


def checkpoint_bytes(store: RunStore, run_id: str, filename: str = run_files.LAST) -> bytes:
    """The raw checkpoint file (state dicts + config), exactly as the worker wrote it."""
    path = store.run_dir(_existing_run(store, run_id).id) / filename
    if not path.is_file():  # e.g. stopped in its first epoch
        raise ValueError(f"Run {run_id} has no {filename} yet: one is written at the end of each epoch.")
    return path.read_bytes()


def torchscript_bytes(model: nn.Module) -> bytes:
    """The model traced on one example digit; load with ``torch.jit.load`` (no Digit Lab code needed)."""
    model = model.eval()  # dropout off, so the trace records inference
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.* say "deprecated"; they still load in torch and C++
        # Tracing suits both models: their forward has no data-dependent control flow.
        traced = torch.jit.trace(model, torch.zeros(EXAMPLE_SHAPE))
        torch.jit.save(traced, buffer)
    return buffer.getvalue()


def onnx_available() -> bool:
    return importlib.util.find_spec("onnx") is not None


def onnx_bytes(model: nn.Module, opset: int = 17) -> bytes:
    """The model as ONNX with input ``image`` (batch, 1, 28, 28) -> ``logits`` (batch, 10), any batch size."""
    if not onnx_available():
        raise ValueError(ONNX_HINT)
    model = model.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # dynamo=False: torch's newer exporter needs the onnxscript package, which a plain
        # `pip install onnx` does not bring; the TorchScript-based one exports these models exactly.
        torch.onnx.export(model, (torch.zeros(EXAMPLE_SHAPE),), buffer, dynamo=False, opset_version=opset,
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    return buffer.getvalue()


def offers_submission(dataset: str) -> bool:
    """Whether a run's dataset can have a test.csv to predict: an upload or a guide-format zip/folder."""
    return dataset.startswith("upload:") or dataset.lower().endswith(".zip") or "/" in dataset


def submission_csv(store: RunStore, run_id: str, which: str = "last") -> str:
    """The guide's filename,label CSV for the test.csv of the guide-format set the run trained on."""
    model, config = load_run_model(store, run_id, which)
    data = load_dataset(config.dataset, config.val_fraction, config.data_dir)
    if data.predict_images is None:
        raise ValueError(f"Run {run_id} trained on {data.name}, which has no test.csv images to predict; a "
                         "submission needs a guide-format dataset (a zip with test.csv, imported on the Data page).")
    return write_submission(data, predict_images(model, data.predict_images))


def require_tensorboard():
    """torch's SummaryWriter, or ValueError saying how to get it."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415 - optional, and slow to import
    except ImportError:
        raise ValueError(TENSORBOARD_HINT) from None
    return SummaryWriter


def export_tensorboard(store: RunStore, run_id: str, log_dir: str | Path) -> Path:
    """Write a run's metrics as TensorBoard event files under ``log_dir/<run_id>``; returns that folder.

    Every series uses the global step as x (epoch metrics sit at the step their epoch ended),
    so per-step and per-epoch curves line up. The config goes in as text.
    """
    SummaryWriter = require_tensorboard()
    run = _existing_run(store, run_id)
    folder = Path(log_dir) / run_id
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for name, series in store.metrics(run_id).items():
            for step, value in zip(series["step"], series["value"]):
                writer.add_scalar(name, value, global_step=step)
        writer.add_text("config", "```\n" + config_json(run) + "```")
    finally:
        writer.close()
    return folder


def has_checkpoint(store: RunStore, run_id: str) -> bool:
    return (store.run_dir(run_id) / run_files.LAST).is_file()


def file_stem(name: str) -> str:
    """A run name as a safe file name: 'lr 0.01/bs 64' -> 'lr_0.01_bs_64'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "run"


def downloads(store: RunStore, run: Run) -> list[Download]:
    """What a run can be downloaded as: metrics, config, checkpoint, TorchScript, ONNX, a submission."""
    def model() -> nn.Module:
        return load_run_model(store, run.id)[0]

    stem = file_stem(run.name)
    offered = [
        Download("metrics", "Metrics (CSV)", f"{stem}-metrics.csv", "text/csv", partial(metrics_csv, store, run.id)),
        Download("config", "Config (JSON)", f"{stem}-config.json", "application/json", partial(config_json, run),
                 help="python -m core.train --config FILE trains it again"),
        Download("checkpoint", "Checkpoint (last.pt)", f"{stem}-last.pt", "application/octet-stream",
                 partial(checkpoint_bytes, store, run.id), True, "state dicts + config; torch.load(weights_only=True)"),
        Download("torchscript", "TorchScript (.pt)", f"{stem}-torchscript.pt", "application/octet-stream",
                 lambda: torchscript_bytes(model()), True, "torch.jit.load(path) runs it without Digit Lab's code"),
    ]
    if onnx_available():
        offered.append(Download("onnx", "ONNX (.onnx)", f"{stem}.onnx", "application/octet-stream",
                                lambda: onnx_bytes(model()), True,
                                "input 'image' (batch, 1, 28, 28), normalised like MNIST; output 'logits'"))
    if offers_submission(run.dataset):
        offered.append(Download("submission", "Submission CSV", f"{stem}-submission.csv", "text/csv",
                                partial(submission_csv, store, run.id), True, "filename,label for test.csv"))
    return offered
