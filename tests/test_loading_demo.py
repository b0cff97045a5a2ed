"""Data loading page logic: sampler coverage measured with core.data.batches, loaders, training both ways."""
import math

import pytest
import torch

from core.data.digits import from_arrays
from core.lessons.loading_demo import (
    compare_sampling,
    expected_coverage,
    loader_anatomy,
    measure_coverage,
    time_pipelines,
    times_seen,
)


@pytest.fixture(scope="module")
def small_digits():
    """600 synthetic 'digits' whose label is written into the pixels, so a tiny MLP can learn them fast."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(600) % 10
    images = torch.randint(0, 60, (600, 28, 28), generator=generator, dtype=torch.uint8)
    for digit in range(10):
        images[labels == digit, digit * 2:digit * 2 + 3, 4:24] = 255  # a bright bar whose row encodes the label
    return from_arrays("synthetic", images, labels, val_fraction=0.0)


def test_shuffle_sees_everything_replacement_about_63_percent():
    shuffled = measure_coverage(3600, 64, "shuffle", 3, seed=0)
    assert [row["distinct fraction"] for row in shuffled] == [1.0, 1.0, 1.0]
    replaced = measure_coverage(3600, 64, "replacement", 5, seed=0)
    for row in replaced:
        assert row["distinct fraction"] == pytest.approx(1 - 1 / math.e, abs=0.025)
    seen = [row["seen so far"] for row in replaced]
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1 - math.exp(-5), abs=0.02)  # 1 - e^-k after k epochs


def test_expected_coverage_formula():
    assert expected_coverage(3600, "shuffle") == 1.0
    assert expected_coverage(3600, "replacement") == pytest.approx(0.63217, abs=1e-5)
    assert expected_coverage(1, "replacement") == 1.0


def test_times_drawn_follows_poisson_one():
    rows = times_seen(5000, 100, "replacement", seed=1)
    assert sum(row["fraction of samples"] for row in rows) == pytest.approx(1.0)
    assert sum(row["times drawn"] * row["fraction of samples"] for row in rows) == pytest.approx(1.0)  # n draws
    assert rows[0]["fraction of samples"] == pytest.approx(math.exp(-1), abs=0.03)
    assert times_seen(500, 50, "shuffle", seed=1)[1]["fraction of samples"] == 1.0


def test_loader_anatomy_batches_what_the_sampler_chose(small_digits):
    for sampling in ("shuffle", "replacement"):
        anatomy = loader_anatomy(small_digits, 16, sampling, seed=3)
        _, train_labels = small_digits.split("train")
        assert anatomy["batch labels"] == train_labels[anatomy["sampler indices"]].tolist()
        assert anatomy["batch shape"] == (16, 28, 28) and anatomy["normalized shape"] == (16, 1, 28, 28)
        assert anatomy["batches per epoch"] == math.ceil(anatomy["dataset length"] / 16)


def test_training_both_ways_is_repeatable_and_learns(small_digits):
    curves = compare_sampling(small_digits, epochs=3, batch_size=32, hidden=16, lr=0.01, seed=0)
    assert set(curves) == {"shuffle", "replacement"}
    assert [row["distinct fraction"] for row in curves["shuffle"]] == [1.0, 1.0, 1.0]
    assert all(0.5 < row["distinct fraction"] < 0.75 for row in curves["replacement"])
    for rows in curves.values():
        assert rows[-1]["train loss"] < rows[0]["train loss"]
        assert rows[-1]["test accuracy"] > 0.8
    again = compare_sampling(small_digits, epochs=3, batch_size=32, hidden=16, lr=0.01, seed=0)
    assert again == curves


def test_pipeline_timing_and_bad_settings(small_digits):
    seconds = time_pipelines(small_digits, 64)
    assert seconds["DataLoader"] > 0 and seconds["index slicing"] > 0
    with pytest.raises(ValueError, match="epochs"):
        compare_sampling(small_digits, epochs=0, batch_size=32, hidden=16, lr=0.01, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        measure_coverage(10, 20, "shuffle", 1, seed=0)
    with pytest.raises(ValueError, match="sampling must be"):
        measure_coverage(10, 2, "bootstrap", 1, seed=0)
