"""The learning-rate range test (Smith 2015; fastai's ``lr_find``, Lightning's ``Tuner.lr_find``).

From a freshly initialised model, train for ``steps`` steps while the learning rate grows
exponentially from ``start_lr`` to ``end_lr``; record the loss, smoothed; stop once it explodes.
The curve shows where learning starts, where it is fastest and where it breaks down. Nothing is
written anywhere: the run store never sees it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from core.config import TrainConfig, model_from_config
from core.data.catalog import load_dataset
from core.data.digits import DigitData, batches, normalize
from core.devices import resolve_device
from core.training.augment import augment_batch
from core.training.optim import make_optimizer
from core.training.precision import mixed_precision
from core.training.trainer import auto_threads

START_LR, END_LR, STEPS = 1e-7, 10.0, 100
# Weight of the past in the smoothed loss. fastai and Lightning use 0.98, which over 100 steps
# spanning 8 decades averages ~50 steps (4 decades) and drags the curve's minimum far past where
# the loss turned; 0.9 averages ~10 steps (under one decade), still enough to calm batch noise.
SMOOTHING = 0.9
EXPLODED = 4.0  # stop once the smoothed loss exceeds this multiple of the best one, as fastai and Lightning do


@dataclass
class LRFindResult:
    lr: list[float]  # learning rate of each step taken
    loss: list[float]  # smoothed (debiased EMA) loss after each step
    raw_loss: list[float]  # each step's batch loss
    suggested_lr: float | None  # None: too few steps before the loss broke down to suggest one

    def to_dict(self) -> dict:
        return {"suggested_lr": self.suggested_lr, "lr": self.lr, "loss": self.loss, "raw_loss": self.raw_loss}


def suggest(lrs: list[float], smoothed: list[float]) -> float | None:
    """A tenth of the learning rate at the smoothed loss's minimum (fastai's ``minimum`` suggestion).

    The minimum is where larger steps stop helping: the edge of stability. A tenth of it is an
    order of magnitude inside that edge, where training is fast and still stable. This rule rather
    than the curve's steepest descent (fastai's ``steep``, Lightning's default) because a minimum
    is a robust feature of a noisy curve and a steepest slope is not: over three seeds on the
    embedded digits the minimum rule gave the guide's MLP with Adam 0.0022-0.0045 and the small
    CNN 0.0066-0.0079, while the steepest slope once picked 5.7 (the blow-up itself) and spread the
    CNN's over 2.5×. On a quadratic ½·a·w² trained with SGD, whose best rate 1/a is known, it
    lands within 20 % of 1/a.
    """
    if len(smoothed) < 2:
        return None
    best = min(range(len(smoothed)), key=smoothed.__getitem__)
    return lrs[best] / 10


def range_test(step: Callable[[float], float], start_lr: float = START_LR, end_lr: float = END_LR,
               steps: int = STEPS) -> LRFindResult:
    """Call ``step(lr)`` (one optimizer step at ``lr``; returns that batch's loss) with a growing lr."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f"the learning rates must satisfy 0 < start < end, got {start_lr:g} and {end_lr:g}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    lrs, smoothed, raw = [], [], []
    average, best = 0.0, math.inf
    for i in range(steps):
        lr = start_lr * (end_lr / start_lr) ** (i / (steps - 1))
        loss = step(lr)
        if not math.isfinite(loss):
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        value = average / (1 - SMOOTHING ** (i + 1))  # debiased: no pull towards 0 at the start
        lrs.append(lr)
        smoothed.append(value)
        raw.append(loss)
        best = min(best, value)
        if value > EXPLODED * best:
            break
    return LRFindResult(lrs, smoothed, raw, suggest(lrs, smoothed))


def lr_find(config: TrainConfig, data: DigitData | None = None, start_lr: float = START_LR,
            end_lr: float = END_LR, steps: int = STEPS) -> LRFindResult:
    """The range test for ``config``'s model, optimizer, batch size, augmentation and precision.

    The model starts from the seed's initial weights, as a run would; the config's lr and
    schedule are replaced by the test's. It runs eagerly (compile would take longer than the
    test) and leaves the caller's random state and thread count as they were.
    """
    config = config.validate()
    data = data if data is not None else load_dataset(config.dataset, config.val_fraction, config.data_dir)
    device = resolve_device(config.device)
    images, labels = (t.to(device) for t in data.split("train"))
    if len(labels) == 0:
        raise ValueError(f"dataset {config.dataset!r} has no training digits")
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(auto_threads(config, data))
    memory_format = torch.channels_last if config.model == "cnn" else torch.contiguous_format
    autocast = mixed_precision(config.precision, device)
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(config.seed)
            model = model_from_config(config).to(device, memory_format=memory_format).train()
            optimizer = make_optimizer(replace(config, lr=start_lr), model.parameters())
            generator = torch.Generator().manual_seed(config.seed)
            queue: list[torch.Tensor] = []

            def step(lr: float) -> float:
                if not queue:  # another pass over the training digits
                    queue.extend(batches(len(labels), config.batch_size, config.sampling, generator))
                index = queue.pop(0).to(device)
                x, y = normalize(images[index]), labels[index]
                if config.augment:
                    x = augment_batch(x, torch.rand(3, len(index), generator=generator).to(device))
                x = x.contiguous(memory_format=memory_format)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with autocast():
                    loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                return loss.item()  # one host sync per step: the test needs the loss to know when to stop

            return range_test(step, start_lr, end_lr, steps)
    finally:
        torch.set_num_threads(threads)
