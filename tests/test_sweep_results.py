"""A sweep's numbers (best run, groups over seeds), seed noise in words, seed bands, and which digits flipped."""
import math

import numpy as np
import pytest
import torch

from core.config import TrainConfig
from core.results.flips import compare_predictions, flip_sets, run_flips
from core.results.seed_noise import LARGER, UNKNOWN, WITHIN, noise_verdict, seed_band, seed_groups
from core.results.sweep_summary import best_run, field_effect, run_rows, varying_fields
from core.results.sweep_summary import seed_groups as config_groups
from core.runner.execute import execute
from core.store.run_store import RunStore, load_predictions
from core.store.sweep_store import SweepItem


def row(position, lr, seed, status, val, test):
    config = TrainConfig(lr=lr, seed=seed, epochs=1).validate().to_dict()
    return {"run_id": f"r{position}", "status": status, "val_accuracy": val, "test_accuracy": test,
            "config": config, "label": f"lr={lr}, seed={seed}", "position": position}


# A hand-made sweep: two seeds of three learning rates; the highest test accuracy is not the best run.
HAND_MADE = [row(0, 0.001, 0, "completed", 0.90, 0.89), row(1, 0.001, 1, "completed", 0.92, 0.91),
             row(2, 0.01, 0, "completed", 0.95, 0.80), row(3, 0.01, 1, "completed", 0.93, 0.99),
             row(4, 0.1, 0, "diverged", None, None), row(5, 0.1, 1, "queued", None, None)]


def test_best_is_the_highest_validation_accuracy_never_the_test_set():
    assert best_run(HAND_MADE)["run_id"] == "r2"
    assert best_run(HAND_MADE[4:]) is None  # nothing finished yet
    tie = [row(0, 0.001, 0, "completed", 0.9, 0.5), row(1, 0.01, 0, "completed", 0.9, 0.6)]
    assert best_run(tie)["run_id"] == "r0"  # a tie goes to the earlier run


def test_groups_are_configs_over_their_seeds_with_mean_and_sample_std():
    groups = config_groups(HAND_MADE)
    assert [group["config"]["lr"] for group in groups] == [0.001, 0.01, 0.1]
    assert all("seed" not in group["config"] for group in groups)
    first, second, third = groups
    assert first["seeds"] == [0, 1] and second["seeds"] == [0, 1] and third["seeds"] == []
    assert math.isclose(first["mean_val_accuracy"], 0.91) and math.isclose(second["mean_val_accuracy"], 0.94)
    assert math.isclose(first["std_val_accuracy"], math.sqrt(2 * 0.01 ** 2 / 1))  # n - 1 = 1
    assert third["mean_val_accuracy"] is None and third["std_val_accuracy"] is None
    one_seed = config_groups([HAND_MADE[0]])[0]
    assert one_seed["std_val_accuracy"] == 0.0


def test_field_effect_has_a_point_per_config_with_its_seed_range():
    effect = field_effect(config_groups(HAND_MADE), "lr", varying_fields(HAND_MADE))
    assert list(effect["value"]) == [0.001, 0.01]  # the config with no finished run has no point yet
    assert list(effect["low"]) == [0.90, 0.93] and list(effect["high"]) == [0.92, 0.95]
    assert list(effect["seeds"]) == [2, 2]


def test_run_rows_say_queued_and_deleted():
    items = [SweepItem("s", 0, "a", {"lr": 0.1, "seed": 0}, None), SweepItem("s", 1, "b", {"lr": 0.2}, "gone")]
    rows = run_rows(items, {})
    assert [r["status"] for r in rows] == ["queued", "deleted"] and rows[0]["val_accuracy"] is None


@pytest.mark.parametrize("a, b, verdict", [
    ([0.90, 0.92], [0.95, 0.93], LARGER),  # 3 points apart, seeds within 2
    ([0.90, 0.95], [0.93, 0.94], WITHIN),  # 1 point apart, seeds 5 points apart
    ([0.90], [0.95], UNKNOWN),  # one seed each: no noise to compare with
    ([0.90], [0.95, 0.955], LARGER),
])
def test_noise_verdict_compares_the_difference_with_the_spread_between_seeds(a, b, verdict):
    result = noise_verdict(a, b)
    assert result.verdict == verdict
    assert verdict in result.sentence or verdict == UNKNOWN
    assert math.isclose(result.difference, abs(np.mean(b) - np.mean(a)))


def test_noise_verdict_says_which_is_better_in_words():
    assert noise_verdict([0.90, 0.92], [0.95, 0.93], ("lr=0.001", "lr=0.01")).sentence.endswith("lr=0.01 is better.")
    with pytest.raises(ValueError, match="at least one finished run"):
        noise_verdict([], [0.9])


def test_seed_band_is_mean_and_range_at_shared_points():
    band = seed_band([([1, 2, 3], [0.5, 0.6, 0.7]), ([1, 2], [0.7, 0.8])])
    assert band["x"] == [1, 2, 3] and band["n"] == [2, 2, 1]
    assert np.allclose(band["mean"], [0.6, 0.7, 0.7])
    assert band["low"] == [0.5, 0.6, 0.7] and band["high"] == [0.7, 0.8, 0.7]


def test_flip_sets_match_a_brute_force_comparison():
    rng = np.random.default_rng(0)
    labels, first, second = (rng.integers(0, 10, 2000) for _ in range(3))
    first[:1200], second[600:1800] = labels[:1200], labels[600:1800]  # mostly right, with overlaps both ways
    lost, gained = flip_sets(labels, first, second)
    brute_lost = [i for i in range(2000) if first[i] == labels[i] and second[i] != labels[i]]
    brute_gained = [i for i in range(2000) if first[i] != labels[i] and second[i] == labels[i]]
    assert list(lost) == brute_lost and list(gained) == brute_gained
    flips = compare_predictions(labels, first, second, rng.random(2000), rng.random(2000))
    assert sorted(flips.lost) == brute_lost and sorted(flips.gained) == brute_gained
    assert flips.both_right + flips.both_wrong + len(brute_lost) + len(brute_gained) == 2000
    assert (np.diff(flips.second_confidence[flips.lost]) <= 0).all()  # surest wrong answer first


def test_flips_between_two_runs_and_between_two_epochs_of_one(tmp_path):
    store = RunStore(tmp_path)
    ids = []
    for epochs, seed in ((2, 0), (1, 1)):
        config = TrainConfig(epochs=epochs, seed=seed, threads=1, hidden=(20,)).validate()
        ids.append(store.create_run(config.to_dict()))
        execute(store, ids[-1], config)
    two_epochs, other = ids
    a, b = load_predictions(store, two_epochs), load_predictions(store, other)
    between_runs = run_flips(store, two_epochs, other)
    labels = between_runs.labels
    first, second = a["predicted"][-1].long().numpy(), b["predicted"][-1].long().numpy()
    assert sorted(between_runs.lost) == [i for i in range(len(labels)) if first[i] == labels[i] != second[i]]
    assert sorted(between_runs.gained) == [i for i in range(len(labels)) if first[i] != labels[i] == second[i]]
    across_epochs = run_flips(store, two_epochs, two_epochs, 1, 2)
    early = a["predicted"][0].long().numpy()
    assert sorted(across_epochs.gained) == [i for i in range(len(labels)) if early[i] != labels[i] == first[i]]
    with pytest.raises(ValueError, match="not after epoch 5"):
        run_flips(store, two_epochs, other, 5, None)


def test_flips_refuse_runs_of_different_datasets(tmp_path):
    store = RunStore(tmp_path)
    a = store.create_run(TrainConfig().to_dict())
    b = store.create_run({**TrainConfig().to_dict(), "dataset": "kmnist"})
    with pytest.raises(ValueError, match="different digits"):
        run_flips(store, a, b, labels=torch.zeros(1000, dtype=torch.int64))


def test_seed_groups_of_runs_ignore_seed_and_data_folder(tmp_path):
    store = RunStore(tmp_path)
    base = TrainConfig(epochs=1).to_dict()
    ids = [store.create_run({**base, "seed": 0}), store.create_run({**base, "seed": 1, "data_dir": "/elsewhere"}),
           store.create_run({**base, "lr": 0.01})]
    runs = {run.id: run for run in store.list_runs()}
    groups = seed_groups([runs[i] for i in ids])
    assert [[run.id for run in group] for group in groups] == [ids[:2], ids[2:]]
