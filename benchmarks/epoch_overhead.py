"""The worker's cost per epoch beyond the training itself, on the digits users train on.

On the embedded 3,600 digits an MLP epoch trains in ~25 ms, so anything the worker does once
per epoch (metric rows, checkpoints, predictions, evaluation) shows. Both sides below run in
this process at the same thread count, alternately, on the same data:

- the reference: a plain loop with the trainer's optimizer and batching that also evaluates
  validation and test after every epoch, and records nothing;
- the worker: ``core.runner.execute.execute``, exactly what ``python -m core.train`` runs,
  writing metrics, progress, last/best checkpoints, per-epoch test predictions and the record of
  the network's insides to a store; timed from its first step until all of that is on disk
  (writes still queued at the last epoch's end count).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

from core.config import TrainConfig, model_from_config
from core.data.catalog import load_dataset
from core.data.digits import DigitData, normalize
from core.runner.execute import execute
from core.store.run_store import RunStore
from core.training.callbacks import Callback
from core.training.evaluation import evaluate_split
from core.training.optim import make_optimizer


def plain_loop_with_evaluation(config: TrainConfig, data: DigitData) -> float:
    """Seconds for ``config.epochs`` epochs of the plain loop, evaluating val and test each epoch."""
    torch.manual_seed(config.seed)
    model = model_from_config(config)
    optimizer = make_optimizer(config, model.parameters())
    generator = torch.Generator().manual_seed(config.seed)
    (images, labels), validation, test = (data.split(name) for name in ("train", "val", "test"))
    start = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        for index in torch.randperm(len(labels), generator=generator).split(config.batch_size):
            x, y = normalize(torch.index_select(images, 0, index)), torch.index_select(labels, 0, index)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        evaluate_split(model, *validation)["accuracy"].item()
        evaluate_split(model, *test)["accuracy"].item()
    return time.perf_counter() - start


class Clock(Callback):
    """Called after the store's callbacks: from just before the first step to after their last write."""

    def on_model(self, model) -> None:
        self.started = time.perf_counter()

    def on_end(self, result) -> None:
        self.seconds = time.perf_counter() - self.started


def worker(config: TrainConfig, data: DigitData, root: str) -> float:
    """Seconds from the worker's first step until everything it records is written (start-up excluded)."""
    store = RunStore(root)
    run_id = store.create_run(config.to_dict())
    clock = Clock()
    execute(store, run_id, config, data=data, callbacks=(clock,))
    return clock.seconds


def worker_vs_plain_loop(epochs: int = 20, repeats: int = 9, threads: int = 1) -> dict:
    """Both sides for the guide's MLP over ``epochs`` epochs, run back to back ``repeats`` times.

    ``ratio`` is the median over the pairs of worker ÷ plain: each pair runs within about a
    second, so a machine that speeds up or slows down between pairs (this one drifts by ±10 % over
    a minute) moves both sides of a pair alike. ``plain_s`` and ``worker_s`` are medians.
    """
    config = replace(TrainConfig(), epochs=epochs, threads=threads).validate()
    data = load_dataset(config.dataset, config.val_fraction, config.data_dir)
    torch.set_num_threads(threads)
    times: dict[str, list[float]] = {"plain": [], "worker": []}
    with tempfile.TemporaryDirectory(prefix="digitlab-overhead-") as root:
        plain_loop_with_evaluation(replace(config, epochs=1), data)  # untimed: first-use costs
        worker(replace(config, epochs=1), data, root)
        for repeat in range(repeats):
            order = ("plain", "worker") if repeat % 2 == 0 else ("worker", "plain")
            for side in order:
                seconds = (plain_loop_with_evaluation(config, data) if side == "plain"
                           else worker(config, data, root))
                times[side].append(seconds)
    ratios = [work / plain for plain, work in zip(times["plain"], times["worker"])]
    return {"epochs": epochs, "plain_s": statistics.median(times["plain"]),
            "worker_s": statistics.median(times["worker"]), "ratio": statistics.median(ratios),
            "ratios": ratios, "times": times}


if __name__ == "__main__":
    result = worker_vs_plain_loop()
    print(f"plain {result['plain_s']:.3f} s, worker {result['worker_s']:.3f} s, ratio {result['ratio']:.2f} "
          f"(pairs: {', '.join(f'{r:.2f}' for r in result['ratios'])})")
