"""Data and run stores the benchmarks measure against, built from the embedded 5,000 digits.

A worker loads its data by name, so a 60,000-digit training set must exist as a dataset it
can load: we write the embedded digits, repeated, as torchvision MNIST files (the same
files a user downloads on the Data page) into a temporary data folder.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import torch

from core.config import TrainConfig, model_from_config
from core.data.catalog import load_dataset
from core.data.digits import DigitData
from core.data.torchvision_sets import RAW_FILES, TORCHVISION_SETS
from core.store import run_files
from core.store.run_store import RunStore

BATCH_SIZE = 128
N_CLASSES = 10
VAL_PER_CLASS = 61  # 610 validation digits in every benchmark dataset, whatever its training size
STEP_SERIES = ("loss", "loss_smooth", "lr", "samples_per_s")  # what a worker logs every log_every steps
EPOCH_SERIES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def write_idx(path: Path, tensor: torch.Tensor) -> None:
    """MNIST's idx format: magic (0x08 = uint8, then the number of dimensions), big-endian sizes, bytes."""
    header = struct.pack(">HBB", 0, 0x08, tensor.dim()) + struct.pack(f">{tensor.dim()}I", *tensor.shape)
    path.write_bytes(header + tensor.to(torch.uint8).contiguous().numpy().tobytes())


def write_mnist_folder(data_dir: Path, train: tuple[torch.Tensor, torch.Tensor],
                       test: tuple[torch.Tensor, torch.Tensor]) -> Path:
    """Write (images uint8 (n, 28, 28), labels) pairs as <data_dir>/MNIST/raw/*-ubyte, unpacked."""
    raw = Path(data_dir) / TORCHVISION_SETS["mnist"][0] / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_images, train_labels, test_images, test_labels = RAW_FILES
    write_idx(raw / train_images, train[0])
    write_idx(raw / train_labels, train[1])
    write_idx(raw / test_images, test[0])
    write_idx(raw / test_labels, test[1])
    return Path(data_dir)


def repeat_per_class(images: torch.Tensor, labels: torch.Tensor, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` digits of each class, cycling through that class's digits, in a fixed shuffled order."""
    chosen = []
    for label in range(N_CLASSES):
        members = torch.nonzero(labels == label).flatten()
        chosen.append(members[torch.arange(per_class) % members.numel()])
    index = torch.cat(chosen)
    index = index[torch.randperm(index.numel(), generator=torch.Generator().manual_seed(0))]
    return images[index].contiguous(), labels[index].contiguous()


def epoch_dataset(root: Path, train_size: int) -> tuple[str, float]:
    """An ``mnist`` data folder whose train split holds exactly ``train_size`` digits; -> (data_dir, val_fraction).

    Digit Lab splits MNIST's training file per class into train and validation by
    ``round(n * val_fraction)``; we write ``train_size / 10 + 61`` digits of each class and
    pick the fraction that sends exactly 61 of them to validation. The test split is the
    embedded test split (1,000 digits), so every benchmark dataset validates and tests alike.
    """
    if train_size % N_CLASSES:
        raise ValueError(f"train_size must be a multiple of {N_CLASSES}, got {train_size}")
    per_class = train_size // N_CLASSES
    val_fraction = VAL_PER_CLASS / (per_class + VAL_PER_CLASS)
    embedded = load_dataset("embedded")
    data_dir = root / f"mnist-{train_size}"
    if not data_dir.exists():
        write_mnist_folder(data_dir, repeat_per_class(embedded.images, embedded.labels, per_class + VAL_PER_CLASS),
                           embedded.split("test"))
    return str(data_dir), val_fraction


def load_epoch_dataset(data_dir: str, val_fraction: float, train_size: int) -> DigitData:
    """Load it the way a worker does, and check the split came out as intended."""
    data = load_dataset("mnist", val_fraction, data_dir)
    sizes = data.sizes()
    if sizes["train"] != train_size or sizes["val"] != VAL_PER_CLASS * N_CLASSES:
        raise RuntimeError(f"benchmark dataset split came out {sizes}, wanted train={train_size}")
    return data


def live_store(root: Path, points: int, epochs: int = 50) -> tuple[RunStore, str]:
    """A store holding one running run with ``points`` rows of every step series and ``epochs`` epoch rows."""
    store = RunStore(root / "live-store")
    config = TrainConfig().validate()
    run_id = store.create_run(config.to_dict(), name="live-view benchmark")
    log_every = config.log_every
    total_steps = points * log_every
    rows = []
    for i in range(1, points + 1):
        step = i * log_every
        loss = 2.3 * (0.98 ** (i / 50)) + 0.05 * ((i * 7919) % 13) / 13  # falling, a little noisy
        epoch = step / total_steps * epochs
        rows += [(name, step, epoch, value) for name, value in zip(STEP_SERIES, (loss, loss, 1e-3, 9e4))]
    for epoch in range(1, epochs + 1):
        step = epoch * total_steps // epochs
        rows += [(name, step, float(epoch), value) for name, value in
                 zip(EPOCH_SERIES, (0.3, 0.9 + epoch / 1000, 0.35, 0.88 + epoch / 1000, epoch * 1.1))]
    store.append_metrics(run_id, rows)
    # Running, and this process is its "worker", so the store does not mark it interrupted.
    store.update(run_id, status="running", pid=os.getpid(), progress={
        "epoch": epochs, "epochs": epochs + 10, "step": total_steps, "total_steps": total_steps + 1000,
        "samples_per_s": 9e4, "elapsed_s": 100.0, "eta_s": 5.0})
    return store, run_id


def inspect_store(root: Path, n_test: int, epochs: int = 15) -> tuple[RunStore, str]:
    """A finished CNN run over an ``mnist`` folder whose test split has ``n_test`` digits.

    Its predictions and last.pt are written in the worker's format, with predictions that
    improve epoch by epoch (so the "learned when" numbers have work to do).
    """
    embedded = load_dataset("embedded")
    test = repeat_per_class(embedded.images, embedded.labels, n_test // N_CLASSES)
    data_dir = write_mnist_folder(root / f"mnist-test-{n_test}", (embedded.images, embedded.labels), test)
    config = TrainConfig(model="cnn", dataset="mnist", data_dir=str(data_dir), epochs=epochs).validate()
    store = RunStore(root / "inspect-store")
    run_id = store.create_run(config.to_dict(), name="inspect benchmark")
    labels = load_dataset("mnist", config.val_fraction, str(data_dir)).split("test")[1]
    generator = torch.Generator().manual_seed(0)
    predicted, confidence = [], []
    for epoch in range(1, epochs + 1):
        wrong = torch.rand(len(labels), generator=generator) < 0.2 / epoch  # 80 % right after epoch 1, 98.7 % at 15
        guess = torch.where(wrong, (labels + 1 + torch.randint(0, 9, labels.shape, generator=generator)) % 10, labels)
        predicted.append(guess.to(torch.uint8))
        confidence.append((0.5 + 0.5 * torch.rand(len(labels), generator=generator)).to(torch.float16))
    run_files.save_predictions(store.run_dir(run_id), list(range(1, epochs + 1)), predicted, confidence)
    model = model_from_config(config)
    store.save_tensors(run_id, "last.pt", {"model": model.state_dict(), "config": config.to_dict(), "epoch": epochs,
                                           "step": epochs * 100})
    store.finish(run_id, "completed", summary={"test_accuracy": 0.987, "epochs_completed": epochs})
    return store, run_id
