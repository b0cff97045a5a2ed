"""Dataset, sampler and loader on real digits, and what the sampling choice does to an epoch.

Shuffling walks a fresh permutation, so an epoch sees every sample once. Drawing with
replacement (the guide's way) sees each sample k times with probability ~Poisson(1), so an
epoch covers only 1 - (1 - 1/n)^n ~ 1 - 1/e ~ 63.2 % of the distinct samples.
"""
from __future__ import annotations

import copy
import math
import time
from collections import Counter

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from core.data.digits import DigitData, batches, normalize
from core.models import build_model

SAMPLINGS = ("shuffle", "replacement")


def expected_coverage(n: int, sampling: str) -> float:
    """Expected fraction of distinct samples one epoch of n draws sees."""
    if sampling == "shuffle":
        return 1.0
    return 1.0 - (1.0 - 1.0 / n) ** n


def measure_coverage(n: int, batch_size: int, sampling: str, epochs: int, seed: int) -> list[dict]:
    """Per epoch: distinct fraction seen that epoch, and cumulatively so far (via core.data.batches)."""
    if not 1 <= n <= 1_000_000 or not 1 <= batch_size <= n or not 1 <= epochs <= 100:
        raise ValueError(f"need 1 <= batch_size <= n and 1 <= epochs <= 100, got n={n}, "
                         f"batch_size={batch_size}, epochs={epochs}")
    generator = torch.Generator().manual_seed(seed)
    ever_seen = torch.zeros(n, dtype=torch.bool)
    rows = []
    for epoch in range(1, epochs + 1):
        seen = torch.zeros(n, dtype=torch.bool)
        for index in batches(n, batch_size, sampling, generator):
            seen[index] = True
        ever_seen |= seen
        rows.append({"sampling": sampling, "epoch": epoch, "distinct fraction": seen.float().mean().item(),
                     "seen so far": ever_seen.float().mean().item()})
    return rows


def times_seen(n: int, batch_size: int, sampling: str, seed: int) -> list[dict]:
    """How many samples were drawn 0, 1, 2, ... times in one epoch, next to the Poisson(1) prediction."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.zeros(n, dtype=torch.long)
    for index in batches(n, batch_size, sampling, generator):
        counts += torch.bincount(index, minlength=n)
    histogram = Counter(counts.tolist())
    rows = []
    for k in range(max(histogram) + 1):
        expected = (1.0 if k == 1 else 0.0) if sampling == "shuffle" else math.exp(-1) / math.factorial(k)
        rows.append({"times drawn": k, "fraction of samples": histogram.get(k, 0) / n, "expected": expected})
    return rows


def loader_anatomy(data: DigitData, batch_size: int, sampling: str, seed: int) -> dict:
    """The torch.utils.data way on the train split: one sample, the sampler's first indices, one batch."""
    images, labels = data.split("train")
    dataset = TensorDataset(images, labels)  # dataset[i] -> (image (28, 28) uint8, label)
    generator = torch.Generator().manual_seed(seed)
    sampler = RandomSampler(dataset, replacement=(sampling == "replacement"), generator=generator)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    first_indices = list(iter(sampler))[:batch_size]  # what the loader will ask the dataset for
    generator.manual_seed(seed)  # rewind so the batch below uses the same indices
    batch_images, batch_labels = next(iter(loader))
    sample_image, sample_label = dataset[0]
    return {
        "dataset length": len(dataset), "batches per epoch": len(loader),
        "sample shape": tuple(sample_image.shape), "sample dtype": str(sample_image.dtype),
        "sample label": int(sample_label), "sampler indices": first_indices,
        "batch images": batch_images, "batch labels": batch_labels.tolist(),
        "batch shape": tuple(batch_images.shape), "normalized shape": tuple(normalize(batch_images).shape),
    }


def time_pipelines(data: DigitData, batch_size: int, repeats: int = 3) -> dict[str, float]:
    """Seconds for one epoch of batches: DataLoader (per-sample __getitem__ + collate) vs index slicing.

    Each is run once to warm up, then timed ``repeats`` times; the fastest run is kept, because
    on a shared CPU the slow runs measure the neighbours, not the pipeline.
    """
    images, labels = data.split("train")
    loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True)

    def through_loader():
        for batch_images, _labels in loader:
            normalize(batch_images)

    def by_slicing():
        for index in batches(len(labels), batch_size, "shuffle", torch.Generator().manual_seed(0)):
            normalize(images[index]), labels[index]  # what a training step would use

    return {"DataLoader": _fastest(through_loader, repeats), "index slicing": _fastest(by_slicing, repeats)}


def _fastest(run, repeats: int) -> float:
    run()  # warm-up: first-call costs are not the pipeline's
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return min(timings)


def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predictions = model(normalize(images)).argmax(dim=1)
    model.train()
    return (predictions == labels).float().mean().item()


def compare_sampling(data: DigitData, epochs: int, batch_size: int, hidden: int, lr: float, seed: int) -> dict:
    """Train the same small MLP (same initial weights) once per sampling; per-epoch curves for each."""
    if not 1 <= epochs <= 20 or not 1 <= batch_size <= 1024 or not 1 <= hidden <= 512 or not 0 < lr <= 1:
        raise ValueError(f"need 1-20 epochs, batch 1-1024, hidden 1-512 and lr in (0, 1], got epochs={epochs}, "
                         f"batch_size={batch_size}, hidden={hidden}, lr={lr}")
    train_images, train_labels = data.split("train")
    test_images, test_labels = data.split("test")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        initial = build_model("mlp", hidden=(hidden,))
    curves = {}
    for sampling in SAMPLINGS:
        model = copy.deepcopy(initial)  # both runs start from the same weights
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(seed)
        curves[sampling] = []
        for epoch in range(1, epochs + 1):
            row = _train_epoch(model, optimizer, train_images, train_labels, batch_size, sampling, generator)
            accuracy = _accuracy(model, test_images, test_labels)
            curves[sampling].append({"epoch": epoch, **row, "test accuracy": accuracy})
    return curves


def _train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
                 batch_size: int, sampling: str, generator: torch.Generator) -> dict:
    """One epoch; returns the mean training loss and the fraction of distinct samples it drew."""
    seen = torch.zeros(len(labels), dtype=torch.bool)
    total, count = 0.0, 0
    for index in batches(len(labels), batch_size, sampling, generator):
        seen[index] = True
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(normalize(images[index])), labels[index])
        loss.backward()
        optimizer.step()
        total, count = total + loss.item() * len(index), count + len(index)
    return {"train loss": total / count, "distinct fraction": seen.float().mean().item()}
