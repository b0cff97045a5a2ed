"""The training loop: one run, set up once, then epochs of index-sliced batches.

It reports only through callbacks (:mod:`core.training.callbacks`), never prints or writes.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import os
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from core.config import TrainConfig, model_from_config
from core.data.catalog import load_dataset
from core.data.digits import DigitData, batches, normalize
from core.devices import choose_threads, cpu_count, resolve_device, time_steps
from core.models import count_parameters
from core.training.augment import augment_batch
from core.training.callbacks import Callback, EpochState, TrainResult
from core.training.distributed import distributed_context
from core.training.evaluation import evaluate_split
from core.training.optim import make_optimizer, make_scheduler
from core.training.precision import mixed_precision
from core.training.tutorial_loader import TutorialDigits, epoch_loader

# Guessing uniformly over 10 classes costs ln(10) = 2.3; a window mean 20x that means the
# weights blew up (seen with lr=10: 1e5 within two steps), even while the loss stays finite.
DIVERGED_LOSS = 20 * math.log(10)
SMOOTHING = 0.8  # weight of the past in the smoothed loss curve


def auto_threads(config: TrainConfig, data: DigitData) -> int:
    """Pick CPU threads by timing a few real CNN steps on a throwaway copy of the model."""
    if config.threads:
        return config.threads
    images, labels = data.split("train")
    x, y = normalize(images[: config.batch_size]), labels[: config.batch_size]
    with torch.random.fork_rng():  # the probe must not change what the seed gives
        model = model_from_config(config)
        optimizer = make_optimizer(config, model.parameters())

        def step():
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

        return choose_threads(config.model, probe=lambda n: time_steps(step, n), cores=cpu_count())


class Trainer:
    """One training run: set up once, then epochs of index-sliced batches.

    Under ``torchrun`` each of the ``world`` processes takes every ``world``-th sample of
    each global batch (so ``batch_size`` stays the global batch size), DDP averages the
    gradients, and only rank 0 is given callbacks (the store writer).
    """

    def __init__(self, config: TrainConfig, callbacks: tuple[Callback, ...] = (), data: DigitData | None = None,
                 resume: dict | None = None):
        self.config = config = config.validate()
        self.callbacks = callbacks
        # Asked every batch: only the callbacks that can ask to stop (~1 us a call, ~30 calls an epoch).
        self.stoppers = tuple(c for c in callbacks if type(c).should_stop is not Callback.should_stop)
        self.watchers = tuple(c for c in callbacks if type(c).evaluating is not Callback.evaluating)
        data = data if data is not None else load_dataset(config.dataset, config.val_fraction, config.data_dir)
        self.rank, self.world = distributed_context()
        self.device = device = resolve_device(config.device)
        if device.type == "cuda" and self.world > 1:
            self.device = device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        self.threads = self._threads(data)
        torch.set_num_threads(self.threads)
        if device.type == "cpu":
            # Adam's running averages of gradients that have gone to zero (dead units, blank border
            # pixels) decay into denormal floats, which x86 CPUs process ~10x slower: the MLP's
            # optimizer step went from ~80 us to ~540 us within an epoch. Flushing them to zero
            # changes nothing a model can learn. (A process-wide setting; torch has no getter.)
            torch.set_flush_denormal(True)
        torch.manual_seed(config.seed)  # every rank builds identical initial weights
        # channels_last: convolutions run ~2x faster on this kind of CPU (measured in benchmarks/).
        self.memory_format = (torch.channels_last if config.model == "cnn" and config.channels_last
                              else torch.contiguous_format)
        self.model = model_from_config(config).to(device, memory_format=self.memory_format)
        self.optimizer = make_optimizer(config, self.model.parameters())
        self.net = self.model  # what the loop calls; a DDP wrapper when distributed, compiled on request
        if self.world > 1:
            self.net = nn.parallel.DistributedDataParallel(self.model)
        if config.compile:
            # Compiles on the first batch (tens of seconds on a CPU, which needs a C++ compiler) and
            # once more for an epoch's smaller last batch. Evaluation and checkpoints use self.model.
            self.net = torch.compile(self.net)
        self.autocast = mixed_precision(config.precision, device)
        # Data lives on the training device once; batches are index slices, no per-batch copies.
        self.split = {name: tuple(t.to(device) for t in data.split(name)) for name in ("train", "val", "test")}
        self.n = len(self.split["train"][1])
        # The tutorial's per-sample pipeline reads the CPU copy; each of its batches is then copied to the device.
        self.tutorial = TutorialDigits(*data.split("train")) if config.loader == "dataloader" else None
        if self.n == 0:
            raise ValueError(f"dataset {config.dataset!r} has no training digits")
        self.steps_per_epoch = math.ceil(self.n / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.scheduler = make_scheduler(config, self.optimizer, self.total_steps)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.start_epoch, self.step, self.best_val = 0, 0, None
        self.tested: tuple[int, torch.Tensor | None] = (-1, None)  # (step, test accuracy) of the last evaluation
        if resume is not None:
            self._load(resume)
        self.status, self.error, self.history = "completed", "", []
        self.ema, self.log_points, self.steps_this_run, self.epochs_done = 0.0, 0, 0, self.start_epoch
        self.info = {"device": str(device), "threads": self.threads, "parameters": count_parameters(self.model),
                     "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
                     "train_samples": self.n, "sizes": data.sizes(), "start_epoch": self.start_epoch,
                     "start_step": self.step}

    def _threads(self, data: DigitData) -> int:
        if self.device.type != "cpu":
            return self.config.threads or torch.get_num_threads()
        if self.world > 1:  # the processes share the cores; probing at once would mislead
            return self.config.threads or max(1, cpu_count() // self.world)
        return auto_threads(self.config, data)

    def _all_reduce(self, values: torch.Tensor, op=None) -> torch.Tensor:
        if self.world > 1:
            dist.all_reduce(values, op=op or dist.ReduceOp.SUM)
        return values

    def _stop_requested(self) -> bool:
        local = any(callback.should_stop() for callback in self.stoppers)
        if self.world == 1:
            return local
        flag = torch.tensor([float(local)], device=self.device)  # ranks must stop at the same step
        return bool(self._all_reduce(flag, dist.ReduceOp.MAX).item())

    def _load(self, checkpoint: dict) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.scheduler is not None and checkpoint.get("scheduler"):
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.generator.set_state(checkpoint["generator"])
        self.start_epoch, self.step = checkpoint["epoch"], checkpoint["step"]
        self.best_val = checkpoint.get("best_val_accuracy")

    def run(self) -> TrainResult:
        for callback in self.callbacks:
            callback.on_start(self.info)
            callback.on_model(self.model)
        self.started = time.perf_counter()
        for epoch in range(self.start_epoch, self.config.epochs):
            totals = self._train_epoch(epoch)
            if self.status != "completed":
                break
            self._end_epoch(epoch, totals)
            if self.status != "completed":
                break
        result = self._result(time.perf_counter() - self.started)
        for callback in self.callbacks:
            callback.on_end(result)
        return result

    def _train_epoch(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass; returns device-side (loss sum, correct count, samples) summed over ranks."""
        config, (train_x, train_y) = self.config, self.split["train"]
        self.model.train()
        # Per step the loop keeps references to each batch's loss, logits and true classes: summed on
        # the device at a log point and at the epoch's end (one argmax over the epoch's logits), not
        # with ~6 small ops a step, which cost ~4 % of a small MLP's epoch. No host sync until a log
        # point. The epoch's logits are (n, 10): 2.4 MB for 60,000 digits.
        window: list[torch.Tensor] = []  # losses since the last log point
        losses, sizes, outputs, targets = [], [], [], []
        seen, local_seen = 0, 0
        order = torch.cat(batches(self.n, config.batch_size, config.sampling, self.generator)).to(self.device)
        # The augmentation's random numbers for the whole epoch, drawn and moved once: no per-batch
        # host-to-device copy on a GPU, and every process of a distributed run draws the same ones.
        batch_randoms = (torch.rand(3, len(order), generator=self.generator).to(self.device)
                         .split(config.batch_size, dim=1) if config.augment else itertools.repeat(None))
        chunks = order.split(config.batch_size)
        loaded = self._tutorial_batches(chunks) if self.tutorial is not None else itertools.repeat(None)
        for chunk, randoms, tutorial_batch in zip(chunks, batch_randoms, loaded):
            seen, self.step, self.steps_this_run = seen + len(chunk), self.step + 1, self.steps_this_run + 1
            if len(chunk) < self.world:
                continue  # a last sliver smaller than the number of processes; every rank skips it alike
            index = chunk[self.rank::self.world]
            if tutorial_batch is not None:  # the same digits, made one PIL image at a time
                x, y = (tensor.to(self.device) for tensor in tutorial_batch)
            else:
                # index_select, not train_x[index]: ~14 us against ~160 us for a batch of uint8 digits here,
                # where the MLP's whole step is under a millisecond.
                x, y = normalize(torch.index_select(train_x, 0, index)), torch.index_select(train_y, 0, index)
            if randoms is not None:
                x = augment_batch(x, randoms[:, self.rank::self.world])
            if self.memory_format is torch.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self.autocast():
                logits = self.net(x)
                loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            loss = loss.detach()
            window.append(loss)
            losses.append(loss)
            sizes.append(len(y))
            outputs.append(logits.detach())
            targets.append(y)
            local_seen += len(y)
            if self.step % config.log_every == 0 or seen == self.n:
                mean = torch.stack(window).mean()
                if self.world > 1:
                    mean = self._all_reduce(mean) / self.world
                self._log(epoch, mean.item(), seen)  # the one host sync per log point
                window = []
                if self.status == "completed" and self._stop_requested():
                    self.status = "stopped"
                if self.status != "completed":
                    break
            elif self.world == 1 and self.stoppers and any(callback.should_stop() for callback in self.stoppers):
                self.status = "stopped"  # a single process stops within one batch, not one log point
                break
        if losses:
            loss_sum = torch.stack(losses).float() @ torch.tensor(sizes, dtype=torch.float32, device=self.device)
            correct = (torch.cat(outputs).argmax(1) == torch.cat(targets)).sum().float()
        else:  # a stop before this epoch's first step
            loss_sum = correct = torch.zeros((), device=self.device)
        return self._all_reduce(torch.stack([loss_sum, correct, torch.tensor(float(local_seen), device=self.device)]))

    def _tutorial_batches(self, chunks: tuple[torch.Tensor, ...]):
        """Per chunk, the tutorial DataLoader's (x, y) of this rank's share; None for a skipped sliver."""
        kept = [chunk[self.rank::self.world].cpu() for chunk in chunks if len(chunk) >= self.world]
        loaded = iter(epoch_loader(self.tutorial, kept))
        return (next(loaded) if len(chunk) >= self.world else None for chunk in chunks)

    def _log(self, epoch: int, value: float, seen: int) -> None:
        config = self.config
        if math.isfinite(value):
            # Debiased exponential moving average (as TensorBoard draws it): no lag towards 0 at the start.
            self.ema, self.log_points = SMOOTHING * self.ema + (1 - SMOOTHING) * value, self.log_points + 1
            self.smooth = self.ema / (1 - SMOOTHING ** self.log_points)
            elapsed = time.perf_counter() - self.started
            rate = self.steps_this_run * config.batch_size / elapsed if elapsed > 0 else 0.0
            progress = {"epoch": epoch + 1, "epochs": config.epochs, "step": self.step,
                        "total_steps": self.total_steps, "samples_per_s": rate, "elapsed_s": elapsed,
                        "eta_s": (self.total_steps - self.step) * elapsed / self.steps_this_run}
            values = {"loss": value, "loss_smooth": self.smooth, "lr": self.optimizer.param_groups[0]["lr"],
                      "samples_per_s": rate}
            for callback in self.callbacks:
                callback.on_log(self.step, epoch + seen / self.n, values, progress)
        if not math.isfinite(value) or value > DIVERGED_LOSS:
            self.status = "diverged"
            self.error = (f"The loss reached {value:.4g} at step {self.step} (epoch {epoch + 1}). The learning "
                          f"rate {config.lr:g} is probably too high for {config.optimizer}: try {config.lr / 10:g}.")

    def _end_epoch(self, epoch: int, totals: torch.Tensor) -> None:
        loss_sum, correct, seen = totals.tolist()
        values = {"train_loss": loss_sum / seen, "train_accuracy": correct / seen}
        if len(self.split["val"][1]):
            val = self._evaluate("val")
            values.update(val_loss=val["loss"].item(), val_accuracy=val["accuracy"].item())
            if not math.isfinite(values["val_loss"]):
                self.status, self.error = "diverged", "The validation loss is not finite: lower the learning rate."
                return
        test = self._evaluate("test")
        self.tested = (self.step, test["accuracy"])  # the run's final answer too, if no step follows
        values["seconds"] = time.perf_counter() - self.started
        current = values.get("val_accuracy", values["train_accuracy"])
        is_best = self.best_val is None or current > self.best_val
        self.best_val = current if is_best else self.best_val
        self.epochs_done = epoch + 1
        self.history.append({"epoch": self.epochs_done, **values})
        state = EpochState(self.model, self.optimizer, self.scheduler, self.generator, self.config,
                           test["predicted"].cpu(), test["confidence"].cpu(), is_best)
        for callback in self.callbacks:
            callback.on_epoch_end(self.epochs_done, self.step, values, state)

    def _evaluate(self, split: str) -> dict[str, torch.Tensor]:
        """An epoch's end evaluation of ``split``, with the callbacks that watch it (see Callback.evaluating)."""
        with contextlib.ExitStack() as watching:
            for callback in self.watchers:
                watching.enter_context(callback.evaluating(split, self.model))
            return evaluate_split(self.model, *self.split[split])

    def _result(self, seconds: float) -> TrainResult:
        test_x, test_y = self.split["test"]
        test_accuracy = None
        if self.status != "diverged" and len(test_y):
            step, accuracy = self.tested
            if step != self.step:  # stopped within an epoch: the weights moved since the last evaluation
                accuracy = evaluate_split(self.model, test_x, test_y)["accuracy"]
            test_accuracy = accuracy.item()
        return TrainResult(
            status=self.status, epochs_completed=self.epochs_done, train_samples=self.n,
            val_accuracy=self.history[-1].get("val_accuracy") if self.history else None,
            best_val_accuracy=self.best_val, test_accuracy=test_accuracy, seconds=seconds, steps=self.step,
            threads=self.threads, device=str(self.device), parameters=self.info["parameters"], processes=self.world,
            error=self.error,
            history=self.history,
        )


def train(config: TrainConfig, callbacks: tuple[Callback, ...] = (), data: DigitData | None = None,
          resume: dict | None = None) -> TrainResult:
    """Train ``config`` and report through ``callbacks``; ``resume`` is a checkpoint to continue from."""
    return Trainer(config, callbacks, data, resume).run()
