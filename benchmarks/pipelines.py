"""The four ways of training one epoch that the benchmark compares, each timed for a given number of steps.

(a) reference: the obvious loop a tutorial reader writes on preloaded uint8 tensors
(b) Digit Lab's trainer exactly as the dashboard runs it: a worker process writing to a store
(c) the tutorial pipeline: per-sample PIL image + ToTensor + Normalize through a DataLoader
(d) the guide's way: NumPy arrays, random indices per batch (with replacement), from_numpy per batch

(a), (c) and (d) run in this process with the same model, Adam and batch size; each is timed
after a few untimed warm-up steps, like (b), which is timed on its second epoch.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from core.config import TrainConfig, model_from_config
from core.data.digits import MEAN, STD, DigitData
from core.runner.launch import launch
from core.store.run_store import FINISHED, RunStore
from core.training.tutorial_loader import TutorialDigits  # (c)'s Dataset: the trainer's "dataloader" mode uses it

BATCH_SIZE = 128
EPOCH_STEPS = 469  # ceil(60,000 / 128): the epoch every time is extrapolated to
WARMUP_STEPS = 3  # untimed: first steps allocate buffers and build kernels
WORKER_TIMEOUT_S = 900.0

Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]


def make_model(config: TrainConfig, device: str = "cpu") -> nn.Module:
    torch.manual_seed(0)
    return model_from_config(config).to(device)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def obvious_step(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """One training step as a tutorial writes it, with a running loss average read every step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # defaults: no fused/foreach choice made
    criterion = nn.CrossEntropyLoss()
    running = {"loss": 0.0, "steps": 0}

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running["loss"] += loss.item()  # a host sync every step: what the obvious loop does
        running["steps"] += 1

    return step


def timed_steps(batches: Batches, step: Callable, steps: int, device: str = "cpu") -> float:
    """Seconds for ``steps`` steps, data preparation included (it happens in ``next(batches)``)."""
    for _ in range(WARMUP_STEPS):
        step(*next(batches))
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(*next(batches))
    synchronize(device)
    return time.perf_counter() - start


# -- batch sources -------------------------------------------------------------------------


def preloaded_batches(images: torch.Tensor, labels: torch.Tensor, device: str = "cpu") -> Batches:
    """(a): uint8 images on the device once; each batch converted and normalised as it is sliced."""
    images, labels = images.to(device), labels.to(device)
    while True:
        for index in torch.randperm(len(labels), device=device).split(BATCH_SIZE):
            x = (images[index].float() / 255 - MEAN) / STD  # (B, 28, 28)
            yield x.unsqueeze(1), labels[index]  # (B, 1, 28, 28)


def tutorial_batches(images: torch.Tensor, labels: torch.Tensor) -> Batches:
    loader = torch.utils.data.DataLoader(TutorialDigits(images, labels), batch_size=BATCH_SIZE, shuffle=True,
                                         num_workers=0)
    while True:
        yield from loader


def guide_batches(images: torch.Tensor, labels: torch.Tensor) -> Batches:
    """(d): the guide scales to float32 NumPy once, then draws each batch at random with replacement."""
    pixels = images.numpy().astype(np.float32) / 255.0  # (N, 28, 28), the guide's preproc (untimed set-up)
    targets = labels.numpy()
    while True:
        index = np.random.randint(0, len(targets), BATCH_SIZE)
        yield torch.from_numpy(pixels[index]).unsqueeze(1), torch.from_numpy(targets[index])


# -- the in-process pipelines ----------------------------------------------------------------


def time_in_process(pipeline: str, config: TrainConfig, data: DigitData, steps: int, threads: int,
                    device: str = "cpu") -> float:
    """Seconds for ``steps`` steps of pipeline a, c or d under ``threads`` CPU threads."""
    images, labels = data.split("train")
    sources = {"a": lambda: preloaded_batches(images, labels, device),
               "c": lambda: tutorial_batches(images, labels),
               "d": lambda: guide_batches(images, labels)}
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return timed_steps(sources[pipeline](), obvious_step(make_model(config, device)), steps, device)
    finally:
        torch.set_num_threads(previous)


# -- (b): the worker -------------------------------------------------------------------------


def wait_finished(store: RunStore, run_id: str, timeout_s: float = WORKER_TIMEOUT_S, poll_s: float = 0.2):
    """The run once its worker has finished; stop it and raise if it takes longer than ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = store.get(run_id)
        if run.status in FINISHED:
            return run
        time.sleep(poll_s)
    store.request_stop(run_id)
    raise TimeoutError(f"run {run_id} did not finish within {timeout_s:.0f} s")


def worker_epoch(store: RunStore, config: TrainConfig) -> dict:
    """(b): train two epochs in a worker; time the second from the store, extrapolated to EPOCH_STEPS steps.

    The store's per-epoch ``seconds`` is training + validation time since the loop began
    (start-up excluded). The logged ``samples_per_s`` at the last step of an epoch gives when
    its training part ended (elapsed = steps * batch / rate), which splits the second epoch
    into a per-step part (scaled to a full epoch) and the end-of-epoch validation (not scaled).
    """
    run_id = launch(store, replace(config, epochs=2))
    run = wait_finished(store, run_id)
    if run.status != "completed":
        raise RuntimeError(f"worker run {run_id} ended {run.status}: {run.error or store.log_tail(run_id)}")
    steps = math.ceil(run.summary["train_samples"] / config.batch_size)  # per epoch
    series = store.metrics(run_id, ("seconds", "samples_per_s"))
    first_end, second_end = series["seconds"]["value"][-2:]
    last_step, last_rate = series["samples_per_s"]["step"][-1], series["samples_per_s"]["value"][-1]
    training_end = last_step * config.batch_size / last_rate  # seconds since start when epoch 2's training ended
    per_step_part, validation_part = training_end - first_end, second_end - training_end
    return {"seconds": per_step_part * EPOCH_STEPS / steps + validation_part, "threads": run.summary.get("threads"),
            "steps": steps, "validation_s": validation_part, "run_id": run_id}
