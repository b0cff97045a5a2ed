"""The speed-up ladder: each rung changes exactly one setting; the trainer switches it needs; seconds to target."""
import pytest
import torch

from core.config import TrainConfig
from core.store import run_files
from core.store.run_store import RunStore
from core.store.sweep_store import SweepStore
from core.sweep.ladder import (
    BASE,
    RUNGS,
    TARGET,
    changed,
    create_ladder,
    ladder_results,
    rung_configs,
    rung_words,
    rungs,
)
from core.training.trainer import Trainer, train


def test_each_rung_changes_exactly_one_setting_from_the_rung_before():
    ladder = rungs(gpu=True)
    configs = rung_configs(ladder)
    assert configs[0] == BASE.validate() and ladder[0].change == {}
    for rung, before, after in zip(ladder[1:], configs, configs[1:]):
        assert changed(before, after) == list(rung.change), rung.name
        assert len(rung.change) == 1 and rung.snippet and rung.why


def test_the_gpu_rungs_join_only_with_a_gpu():
    assert [rung.name for rung in rungs(gpu=False)] == [rung.name for rung in RUNGS if not rung.gpu_only]
    assert rungs(gpu=True) == list(RUNGS) and rungs(gpu=True)[-2:] == [r for r in RUNGS if r.gpu_only]


def test_the_tutorial_dataloader_trains_on_the_very_same_batches():
    results = {loader: train(TrainConfig(epochs=1, threads=1, hidden=(20,), loader=loader))
               for loader in ("tensors", "dataloader")}
    tensors, tutorial = results["tensors"], results["dataloader"]
    # Only the rounding of ToTensor + Normalize against normalize() differs: same digits, same order.
    assert tutorial.history[0]["train_loss"] == pytest.approx(tensors.history[0]["train_loss"], rel=1e-4)
    assert tutorial.val_accuracy == pytest.approx(tensors.val_accuracy, abs=0.003)


def test_channels_last_can_be_switched_off_for_the_cnn():
    on, off = (Trainer(TrainConfig(model="cnn", epochs=1, threads=1, channels_last=flag)) for flag in (True, False))
    assert on.memory_format is torch.channels_last and off.memory_format is torch.contiguous_format
    second_conv = (trainer.model.features[3].weight for trainer in (on, off))
    assert [weight.is_contiguous() for weight in second_conv] == [False, True]


def test_bad_switch_values_name_the_field():
    with pytest.raises(ValueError, match="loader must be one of tensors, dataloader"):
        TrainConfig(loader="pil").validate()
    with pytest.raises(ValueError, match="channels_last must be true or false"):
        TrainConfig(channels_last="yes").validate()


def fake_rung_run(store: RunStore, config: dict, labels: torch.Tensor, seconds_per_epoch: float,
                  accuracy_by_epoch: list[float]) -> str:
    """A finished run with the epoch times and test accuracies a ladder reads, without training."""
    run_id = store.create_run(config)
    store.append_metrics(run_id, [("seconds", epoch * 10, float(epoch), seconds_per_epoch * epoch)
                                  for epoch in range(1, len(accuracy_by_epoch) + 1)])
    predicted = []
    for accuracy in accuracy_by_epoch:
        row = labels.clone()
        wrong = int(round((1 - accuracy) * len(labels)))
        row[:wrong] = (row[:wrong] + 1) % 10
        predicted.append(row.to(torch.uint8))
    run_files.save_predictions(store.run_dir(run_id), list(range(1, len(predicted) + 1)), predicted,
                               [torch.ones(len(labels), dtype=torch.float16)] * len(predicted))
    store.finish(run_id, "completed")
    return run_id


def test_seconds_to_target_and_what_each_rung_did(tmp_path):
    store = RunStore(tmp_path)
    ladder_id = create_ladder(store, seeds=(0, 1), gpu=False)
    sweeps = SweepStore(store)
    labels = torch.arange(200) % 10
    reach_at_3, reach_at_2, never = [0.9, 0.95, 0.975, 0.98], [0.9, 0.975, 0.98, 0.98], [0.9, 0.95, 0.96, 0.96]
    plan = [(1.0, reach_at_3), (1.1, reach_at_3),  # tutorial: 3.0 s and 3.3 s
            (0.5, reach_at_3), (0.52, reach_at_3),  # preloaded: about twice as fast
            (0.5, reach_at_2), (0.6, reach_at_3),  # OneCycle: 1.0 s and 1.8 s, within the seeds' spread
            (0.5, never), (0.5, reach_at_3),  # bigger batch: one seed never gets there
            (0.3, reach_at_3), (0.3, reach_at_3)]  # channels_last
    for item, (seconds, accuracy) in zip(sweeps.items(ladder_id), plan):
        sweeps.assign(ladder_id, item.position, fake_rung_run(store, item.config, labels, seconds, accuracy))
    results = ladder_results(store, sweeps.get(ladder_id), labels)
    assert [r["name"] for r in results] == [rung.name for rung in rungs(gpu=False)]
    assert results[0]["seconds"] == pytest.approx([3.0, 3.3]) and results[0]["epochs_to_target"] == [3, 3]
    assert results[0]["words"] == "the starting point"
    assert results[1]["words"] == "2.06x faster than the rung above (faster with every seed)"
    assert results[1]["epoch_seconds"] == pytest.approx(0.51)
    assert results[2]["seconds"] == pytest.approx([1.0, 1.8]) and "no clear change" in results[2]["words"]
    assert results[3]["seconds"][0] is None and f"did not reach {TARGET:.0%}" in results[3]["words"]
    assert results[3]["mean_seconds"] is None and results[3]["final_test_accuracy"][0] == pytest.approx(0.96)
    assert results[4]["words"] == "reached the target, which the previous rung did not"


def test_a_rung_slower_with_every_seed_says_it_does_not_help():
    words = rung_words([2.0, 2.2], [1.0, 1.1], finished=True, target=TARGET, first=False)
    assert words == "2.00x slower than the rung above with every seed: it does not help on this machine"
