"""Training: the config, the loop, and the command line.

    python -m core.train --model mlp --epochs 5 --json

The loop knows nothing of the dashboard: it reports through callbacks (see
:class:`Callback`); :class:`core.worker.StoreReporter` is the callback that writes
to the run store, which the dashboard polls.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from core.data import DigitData, batches, load_dataset, normalize
from core.devices import choose_threads, cpu_count, list_devices, resolve_device, time_steps
from core.evaluate import evaluate_split
from core.models import ACTIVATIONS, MODELS, build_model, count_parameters

OPTIMIZERS = ("sgd", "sgd-momentum", "adam", "adamw", "rmsprop")
SAMPLINGS = ("shuffle", "replacement")
SCHEDULES = ("constant", "cosine", "onecycle")
PRECISIONS = ("fp32", "bf16")  # bf16: autocast of forward + loss; weights and optimizer stay fp32
PRESET_HIDDEN = {"mlp": (50,), "cnn": (64,)}
# Guessing uniformly over 10 classes costs ln(10) = 2.3; a window mean 20x that means the
# weights blew up (seen with lr=10: 1e5 within two steps), even while the loss stays finite.
DIVERGED_LOSS = 20 * math.log(10)
SMOOTHING = 0.8  # weight of the past in the smoothed loss curve


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


# -- the loop ---------------------------------------------------------------------------


class Callback:
    """Hooks the loop calls; override what you need. ``should_stop`` is asked every batch."""

    def on_start(self, info: dict) -> None: ...

    def on_log(self, step: int, epoch: float, values: dict[str, float], progress: dict) -> None: ...

    def on_epoch_end(self, epoch: int, step: int, values: dict[str, float], state: "EpochState") -> None: ...

    def on_end(self, result: "TrainResult") -> None: ...

    def should_stop(self) -> bool:
        return False


@dataclass
class EpochState:
    """What a callback needs at the end of an epoch to checkpoint and record predictions."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    generator: torch.Generator
    config: TrainConfig
    test_predicted: torch.Tensor  # int64 (n_test,)
    test_confidence: torch.Tensor  # float32 (n_test,)
    is_best: bool


@dataclass
class TrainResult:
    status: str  # completed, stopped, diverged
    epochs_completed: int
    train_samples: int
    val_accuracy: float | None
    best_val_accuracy: float | None
    test_accuracy: float | None
    seconds: float
    steps: int
    threads: int
    device: str
    parameters: int
    processes: int = 1  # torchrun processes that trained it together
    error: str = ""
    history: list[dict] = field(default_factory=list)  # per-epoch values

    def summary(self) -> dict:
        values = asdict(self)
        values.pop("history")
        return values


def make_optimizer(config: TrainConfig, parameters) -> torch.optim.Optimizer:
    lr, wd = config.lr, config.weight_decay
    parameters = list(parameters)
    # fused: the whole update in one kernel per step (CPU and CUDA); ~25 % off the MLP's step here.
    # RMSprop has no fused kernel; foreach batches its per-parameter ops instead.
    fast = {"fused": True} if parameters[0].device.type in ("cpu", "cuda") else {"foreach": True}
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr, weight_decay=wd, **fast)
    if config.optimizer == "sgd-momentum":
        return torch.optim.SGD(parameters, lr=lr, momentum=config.momentum, weight_decay=wd, **fast)
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=wd, **fast)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=wd, **fast)
    return torch.optim.RMSprop(parameters, lr=lr, momentum=config.momentum, weight_decay=wd, foreach=True)


def make_scheduler(config: TrainConfig, optimizer, total_steps: int):
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps)
    return None


def augment_batch(x: torch.Tensor, randoms: torch.Tensor) -> torch.Tensor:
    """Random shift (±2 px), rotation (±10°) and scale (±10 %) per digit.

    x is (B, 1, 28, 28); randoms is (3, B) uniform in [0, 1) on x's device, drawn by the caller
    so that every process of a distributed run consumes its generator identically.
    """
    angle, scale, shift = randoms * 2 - 1
    angle, scale, shift_y = angle * math.pi / 18, 1 + 0.1 * scale, torch.roll(shift, 1) * 2 / 14
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift * 2 / 14], 1), torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    background = x.amin()  # normalised black, so shifted-in pixels look like MNIST's background
    return F.grid_sample(x - background, grid, align_corners=False) + background


def auto_threads(config: TrainConfig, data: DigitData) -> int:
    """Pick CPU threads by timing a few real CNN steps on a throwaway copy of the model."""
    if config.threads:
        return config.threads
    images, labels = data.split("train")
    x, y = normalize(images[: config.batch_size]), labels[: config.batch_size]
    with torch.random.fork_rng():  # the probe must not change what the seed gives
        model = build_model(config.model, config.hidden, config.channels, config.activation, config.dropout)
        optimizer = make_optimizer(config, model.parameters())

        def step():
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

        return choose_threads(config.model, probe=lambda n: time_steps(step, n), cores=cpu_count())


def mixed_precision(precision: str, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of the context the forward pass runs in: bfloat16 autocast, or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision bf16 needs a GPU with bfloat16 support; {torch.cuda.get_device_name(device)} "
                         "has none. Choose precision fp32.")
    return functools.partial(torch.autocast, device.type, dtype=torch.bfloat16)


def distributed_context() -> tuple[int, int]:
    """(rank, world size); joins the process group when started by ``torchrun`` with several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


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
        self.memory_format = torch.channels_last if config.model == "cnn" else torch.contiguous_format
        self.model = build_model(config.model, config.hidden, config.channels, config.activation,
                                 config.dropout).to(device, memory_format=self.memory_format)
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
        if self.n == 0:
            raise ValueError(f"dataset {config.dataset!r} has no training digits")
        self.steps_per_epoch = math.ceil(self.n / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        self.scheduler = make_scheduler(config, self.optimizer, self.total_steps)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.start_epoch, self.step, self.best_val = 0, 0, None
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
        local = any(callback.should_stop() for callback in self.callbacks)
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
        # Device-side running sums, one in-place op each per step: no host sync until a log point.
        window_loss, loss_sum = torch.zeros((), device=self.device), torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        window_steps, seen, local_seen = 0, 0, 0
        order = torch.cat(batches(self.n, config.batch_size, config.sampling, self.generator)).to(self.device)
        # The augmentation's random numbers for the whole epoch, drawn and moved once: no per-batch
        # host-to-device copy on a GPU, and every process of a distributed run draws the same ones.
        batch_randoms = (torch.rand(3, len(order), generator=self.generator).to(self.device)
                         .split(config.batch_size, dim=1) if config.augment else itertools.repeat(None))
        for chunk, randoms in zip(order.split(config.batch_size), batch_randoms):
            seen, self.step, self.steps_this_run = seen + len(chunk), self.step + 1, self.steps_this_run + 1
            if len(chunk) < self.world:
                continue  # a last sliver smaller than the number of processes; every rank skips it alike
            index = chunk[self.rank::self.world]
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
            window_loss.add_(loss)
            loss_sum.add_(loss, alpha=len(y))
            correct.add_((logits.detach().argmax(1) == y).sum())
            window_steps, local_seen = window_steps + 1, local_seen + len(y)
            if self.step % config.log_every == 0 or seen == self.n:
                mean = self._all_reduce(window_loss / window_steps) / self.world
                self._log(epoch, mean.item(), seen)  # the one host sync per log point
                window_loss.zero_()
                window_steps = 0
                if self.status == "completed" and self._stop_requested():
                    self.status = "stopped"
                if self.status != "completed":
                    break
            elif self.world == 1 and any(callback.should_stop() for callback in self.callbacks):
                self.status = "stopped"  # a single process stops within one batch, not one log point
                break
        return self._all_reduce(torch.stack([loss_sum, correct.to(loss_sum.dtype),
                                             torch.tensor(float(local_seen), device=self.device)]))

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
        val_x, val_y = self.split["val"]
        if len(val_y):
            val = evaluate_split(self.model, val_x, val_y)
            values.update(val_loss=val["loss"].item(), val_accuracy=val["accuracy"].item())
            if not math.isfinite(values["val_loss"]):
                self.status, self.error = "diverged", "The validation loss is not finite: lower the learning rate."
                return
        test = evaluate_split(self.model, *self.split["test"])
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

    def _result(self, seconds: float) -> TrainResult:
        test_x, test_y = self.split["test"]
        test_accuracy = None
        if self.status != "diverged" and len(test_y):
            test_accuracy = evaluate_split(self.model, test_x, test_y)["accuracy"].item()
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


# -- command line -----------------------------------------------------------------------

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
}


def build_parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m core.train", description="Train a digit classifier and record it in the run store.")
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
    parser.add_argument("--name", default="", help="a name for the run (default: its id)")
    parser.add_argument("--runs-dir", default=None, help="run store folder (default: $DIGITLAB_RUNS_DIR or ./runs)")
    parser.add_argument("--run-id", default=None, help="train an existing run created by the dashboard (default: new run)")
    parser.add_argument("--resume", default=None, metavar="RUN_ID",
                        help="continue RUN_ID from its last checkpoint as a new run; --epochs is the new total "
                             "(default: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the result (default: off)")
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="also write the run's metrics as TensorBoard event files under DIR/<run id> at the end "
                             "(needs the tensorboard package; default: off)")
    return parser


def config_from_args(args, base: dict | None = None) -> TrainConfig:
    """``base`` (a parent run's config) < ``--config`` file < flags given on the command line."""
    import json

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


def prepare(args, store) -> tuple[str, TrainConfig, DigitData, dict | None]:
    """Resolve the run to train (new, dashboard-created, or resumed); raise ValueError on bad input."""
    from core import worker
    from core.checkpoints import load_checkpoint

    if args.run_id:  # created by the dashboard, which validated its config
        run = store.get(args.run_id)
        if run is None:
            raise ValueError(f"--run-id {args.run_id}: no such run in {store.root}")
        try:
            config = TrainConfig.from_dict(run.config).validate()
            resume = worker.load_resume(store, run)
            return args.run_id, config, load_dataset(config.dataset, config.val_fraction, config.data_dir), resume
        except ValueError as exc:
            store.finish(args.run_id, "failed", error=str(exc))
            raise
    resume = load_checkpoint(store, args.resume, "last") if args.resume else None
    config = config_from_args(args, base=resume["config"] if resume else None)
    if resume and config.epochs <= resume["epoch"]:
        raise ValueError(f"--epochs must be more than the {resume['epoch']} epochs run {args.resume} "
                         f"already trained, got {config.epochs}")
    data = load_dataset(config.dataset, config.val_fraction, config.data_dir)  # before the run exists
    run_id = store.create_run(config.to_dict(), name=args.name, parent_id=args.resume,
                              origin="resume" if resume else "")
    if resume:
        worker.copy_history(store, args.resume, run_id)
    return run_id, config, data, resume


def main(argv: list[str] | None = None) -> int:
    import json
    import sys

    from core import export, worker
    from core.checkpoints import load_checkpoint
    from core.runs import RunStore

    args = build_parser().parse_args(argv)
    rank, world = distributed_context()
    try:
        if args.tensorboard:
            export.require_tensorboard()  # refuse before training, not after
        store = RunStore(args.runs_dir)
        if rank == 0:  # only rank 0 records the run
            run_id, config, data, resume = prepare(args, store)
        else:
            resume = load_checkpoint(store, args.resume, "last") if args.resume else None
            config = config_from_args(args, base=resume["config"] if resume else None)
            data = load_dataset(config.dataset, config.val_fraction, config.data_dir)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if rank != 0:
            train(config, (), data=data, resume=resume)
            return 0
        result = worker.execute(store, run_id, config, data=data, resume=resume)
    except Exception as exc:  # noqa: BLE001 - recorded on the run by execute(); say it plainly here too
        print(f"error: {worker.failure_message(exc, store)}", file=sys.stderr)
        if not isinstance(exc, (OSError, MemoryError, torch.OutOfMemoryError)):
            raise  # an unexpected error keeps its traceback in the log
        return 1
    finally:
        if world > 1:
            dist.destroy_process_group()
    if args.tensorboard:
        print(f"TensorBoard events: {export.export_tensorboard(store, run_id, args.tensorboard)}", file=sys.stderr)
    if args.json:
        print(json.dumps({"run_id": run_id, **result.summary()}))
    return 0 if result.status in ("completed", "stopped") else 1


if __name__ == "__main__":
    raise SystemExit(main())
