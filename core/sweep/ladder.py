"""The speed-up ladder: the seconds a CNN takes to reach a test accuracy, under known speed-ups switched on one
at a time, each rung a real run (two seeds) trained alone so the timings are honest.

The target: the default CNN at 97 % test accuracy on the embedded digits, within 10 epochs. On a
2-core CPU every rung gets there in seconds, and "seconds to target" (training and per-epoch
evaluation, start-up excluded) is read at the end of the first epoch that reached it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from core.config import TrainConfig
from core.results.compare import differing_fields, format_value
from core.results.inspection import run_dataset
from core.store.run_store import Run, RunStore, load_predictions
from core.store.sweep_store import Sweep, SweepStore

TARGET = 0.97  # test accuracy
SEEDS = (0, 1)  # two runs per rung: a rung's gain must beat the difference seeds alone make
# The first rung: the tutorial's pipeline. 10 epochs leave every rung room to reach the target;
# Adam at 0.01 lets the bigger batch (fewer steps per epoch) still get there. One thread: every
# rung runs under the same conditions, and the dashboard's server keeps the other core.
BASE = TrainConfig(model="cnn", lr=0.01, epochs=10, threads=1, loader="dataloader", channels_last=False)


@dataclass(frozen=True)
class Rung:
    name: str
    change: dict  # the one config field this rung changes from the previous rung
    snippet: str  # the code that changed, as a tutorial reader would write it
    why: str
    gpu_only: bool = False


SNIPPETS = {
    "tutorial": """
class Digits(Dataset):
    def __getitem__(self, i):
        image = Image.fromarray(self.images[i].numpy())   # one PIL image per digit
        return transform(image), int(self.labels[i])      # ToTensor + Normalize

for x, y in DataLoader(Digits(images, labels), batch_size=128, shuffle=True):
    ...""",
    "tensors": """
images = images.to(device)                         # uint8 (N, 28, 28), once
for index in torch.randperm(n).split(128):
    x = normalize(images.index_select(0, index))   # one kernel per batch
    ...""",
    "onecycle": """
scheduler = OneCycleLR(optimizer, max_lr=0.01, total_steps=epochs * steps_per_epoch)
...
optimizer.step()
scheduler.step()                                   # after every step""",
    "batch": """
for index in torch.randperm(n).split(256):         # was 128
    ...""",
    "channels_last": """
model = model.to(memory_format=torch.channels_last)
x = x.contiguous(memory_format=torch.channels_last)""",
    "bf16": """
with torch.autocast("cuda", dtype=torch.bfloat16):
    loss = F.cross_entropy(model(x), y)""",
    "compile": """
net = torch.compile(model)                         # fused kernels
loss = F.cross_entropy(net(x), y)""",
}
RUNGS = (
    Rung("Tutorial: per-sample Dataset + DataLoader", {}, SNIPPETS["tutorial"].strip(),
         "Every digit becomes a PIL image, then a tensor, one at a time, in Python."),
    Rung("Preloaded uint8 tensors, sliced by index", {"loader": "tensors"}, SNIPPETS["tensors"].strip(),
         "The same batches, made by one indexing kernel each instead of 128 Python calls."),
    Rung("OneCycle learning-rate schedule", {"schedule": "onecycle"}, SNIPPETS["onecycle"].strip(),
         "Warm up, then anneal: a high learning rate early, a low one to settle. The hope is fewer epochs to a "
         "given accuracy; it costs nothing per step."),
    Rung("Bigger batch: 256", {"batch_size": 256}, SNIPPETS["batch"].strip(),
         "Half the optimizer steps per epoch. Pays where a step's fixed cost dominates (a GPU); on a CPU already "
         "busy with 128 digits a step, each epoch takes about as long and makes half the updates."),
    Rung("channels_last memory format", {"channels_last": True}, SNIPPETS["channels_last"].strip(),
         "Convolutions read pixels with channels innermost (NHWC), the layout CPU and GPU kernels are fastest on."),
    Rung("bf16 autocast", {"precision": "bf16"}, SNIPPETS["bf16"].strip(),
         "Half-width numbers for the forward pass on GPU tensor cores; the weights stay fp32.", gpu_only=True),
    Rung("torch.compile", {"compile": True}, SNIPPETS["compile"].strip(),
         "Kernels fused into fewer launches; the first steps pay for the compilation.", gpu_only=True),
)


def rungs(gpu: bool | None = None) -> list[Rung]:
    """The rungs this machine runs: the GPU-only ones where there is a GPU."""
    gpu = torch.cuda.is_available() if gpu is None else gpu
    return [rung for rung in RUNGS if gpu or not rung.gpu_only]


def rung_configs(ladder: list[Rung]) -> list[TrainConfig]:
    """Each rung's config: the previous rung's with this rung's one change."""
    configs, config = [], BASE
    for rung in ladder:
        config = replace(config, **rung.change)
        configs.append(config.validate())
    return configs


def changed(before: TrainConfig, after: TrainConfig) -> list[str]:
    return differing_fields([before.to_dict(), after.to_dict()])


def create_ladder(store: RunStore, seeds: tuple[int, ...] = SEEDS, gpu: bool | None = None) -> str:
    """Queue the ladder as a sweep of kind ``ladder``: rung by rung, seeds together, one run at a time."""
    ladder = rungs(gpu)
    items = [(f"{rung.name} · seed {seed}", replace(config, seed=seed).to_dict())
             for rung, config in zip(ladder, rung_configs(ladder)) for seed in seeds]
    spec = {"target": TARGET, "rungs": [rung.name for rung in ladder], "seeds": list(seeds)}
    return SweepStore(store).create("Speed-up ladder", "ladder", spec, items, jobs=1)


def accuracy_by_epoch(predictions: dict, labels: torch.Tensor) -> dict[int, float]:
    return {int(epoch): float((row.long() == labels).float().mean())
            for epoch, row in zip(predictions["epochs"].tolist(), predictions["predicted"])}


def time_to_target(store: RunStore, run: Run, labels: torch.Tensor, target: float = TARGET) -> dict:
    """seconds (None if never reached), the epoch it was reached, final test accuracy, epochs done, and
    seconds per epoch (the time of the epochs done over their number)."""
    empty = {"seconds": None, "epoch": None, "final_test_accuracy": None, "epochs": 0, "epoch_seconds": None}
    try:
        accuracy = accuracy_by_epoch(load_predictions(store, run.id), labels)
    except ValueError:  # no predictions yet: the first epoch has not ended
        return empty
    series = store.metrics(run.id, ("seconds",)).get("seconds", {"epoch": [], "value": []})
    seconds = {int(round(epoch)): value for epoch, value in zip(series["epoch"], series["value"])}
    reached = next((epoch for epoch in sorted(accuracy) if accuracy[epoch] >= target and epoch in seconds), None)
    return {"seconds": seconds.get(reached) if reached else None, "epoch": reached,
            "final_test_accuracy": accuracy[max(accuracy)] if accuracy else None, "epochs": len(accuracy),
            "epoch_seconds": seconds[max(seconds)] / max(seconds) if seconds else None}


def rung_words(times: list, previous: list | None, finished: bool, target: float, first: bool) -> str:
    """What a rung did to the time to target against the rung before it (``previous``: its times, seed by seed).

    Seed by seed, because a seed reaches the target at the same epoch on rungs that change only speed:
    compared in pairs, the epoch a seed happens to need cancels out, and what is left is the rung.
    """
    if not finished:
        return "waiting for its runs to finish"
    if any(t is None for t in times):
        return f"did not reach {target:.0%} test accuracy with every seed within the epochs given: slower to the " \
               "target"
    if first:
        return "the starting point"
    if previous is None:
        return "the previous rung has no finished runs to compare with"
    if any(t is None for t in previous):
        return "reached the target, which the previous rung did not"
    ratios = [before / after for before, after in zip(previous, times)]
    overall = float(np.mean(previous)) / float(np.mean(times))
    seeds = "the one seed" if len(ratios) == 1 else "every seed"
    if all(ratio > 1 for ratio in ratios):
        return f"{overall:.2f}x faster than the rung above (faster with {seeds})"
    if all(ratio < 1 for ratio in ratios):
        return f"{1 / overall:.2f}x slower than the rung above with {seeds}: it does not help on this machine"
    return f"no clear change on this machine ({overall:.2f}x): faster with one seed, slower with another"


def ladder_results(store: RunStore, sweep: Sweep, labels: torch.Tensor | None = None) -> list[dict]:
    """One dict per rung: name, change, snippet, why, run_ids, seconds (per seed), mean_seconds, epochs to
    target, final test accuracies, seconds per epoch, and words on what it did against the rung above."""
    spec, items = sweep.spec, SweepStore(store).items(sweep.id)
    seeds, target, by_name = spec.get("seeds", list(SEEDS)), spec.get("target", TARGET), {r.name: r for r in RUNGS}
    runs = {run.id: run for run in store.list_runs()}
    if labels is None:
        labels = next((run_dataset(store, item.run_id).split("test")[1] for item in items if item.run_id in runs),
                      None)
    results, previous = [], None
    for index, name in enumerate(spec.get("rungs", [])):
        mine = items[index * len(seeds):(index + 1) * len(seeds)]
        timed = [time_to_target(store, runs[item.run_id], labels, target) if item.run_id in runs and
                 labels is not None else {"seconds": None, "epoch": None, "final_test_accuracy": None, "epochs": 0}
                 for item in mine]
        finished = all(item.run_id in runs and not runs[item.run_id].active for item in mine)
        times = [t["seconds"] for t in timed]
        per_epoch = [t["epoch_seconds"] for t in timed if t["epoch_seconds"] is not None]
        rung = by_name.get(name, Rung(name, {}, "", ""))
        results.append({
            "name": name, "change": ", ".join(f"{k}={format_value(v)}" for k, v in rung.change.items()) or "—",
            "snippet": rung.snippet, "why": rung.why, "run_ids": [item.run_id for item in mine],
            "statuses": [runs[item.run_id].status if item.run_id in runs else "queued" for item in mine],
            "seconds": times, "mean_seconds": float(np.mean(times)) if times and None not in times else None,
            "epochs_to_target": [t["epoch"] for t in timed],
            "final_test_accuracy": [t["final_test_accuracy"] for t in timed], "finished": finished,
            "epoch_seconds": float(np.mean(per_epoch)) if per_epoch else None,
            "words": rung_words(times, previous, finished, target, first=index == 0)})
        previous = times if finished else None
    return results
