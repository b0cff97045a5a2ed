"""The runs table, config differences, overlay curves, lineage and replay checks; store edits they rely on."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.config import TrainConfig
from core.results import compare
from core.runner.execute import execute
from core.runner.launch import replay_config
from core.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def trained_run(store: RunStore, name: str = "", parent_id=None, origin: str = "", **fields) -> str:
    config = TrainConfig(**{"epochs": 2, "threads": 1, **fields}).validate()
    run_id = store.create_run(config.to_dict(), name=name, parent_id=parent_id, origin=origin)
    execute(store, run_id, config)
    return run_id


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    slow = trained_run(store, name="slow", lr=1e-3)
    fast = trained_run(store, name="fast", lr=1e-2, batch_size=64)
    return store, slow, fast


def test_differing_fields_in_config_order_missing_counts_as_different():
    configs = [{"lr": 0.01, "batch_size": 64, "seed": 0, "hidden": [50]},
               {"lr": 0.001, "batch_size": 64, "seed": 0, "hidden": [128, 64], "augment": True}]
    assert compare.differing_fields(configs) == ["lr", "hidden", "augment"]
    assert compare.differing_fields(configs, ignore=("hidden",)) == ["lr", "augment"]
    assert compare.differing_fields([configs[0], dict(configs[0])]) == []


def test_legend_label_names_the_values_that_differ():
    config = {"lr": 0.01, "batch_size": 64, "hidden": [128, 64], "seed": 3}
    assert compare.legend_label(config, ["lr", "batch_size"]) == "lr=0.01, batch_size=64"
    assert compare.legend_label(config, ["hidden"]) == "hidden=128-64"


def test_trace_labels_fall_back_to_names_when_configs_match(two_runs):
    store, slow, fast = two_runs
    labels = compare.trace_labels([store.get(slow), store.get(fast)])
    assert labels == {slow: "lr=0.001, batch_size=128", fast: "lr=0.01, batch_size=64"}
    twin = store.get(slow)
    twin_copy = type(twin)(**{**twin.__dict__, "id": "other", "name": "slow again"})
    assert compare.trace_labels([twin, twin_copy]) == {slow: "slow", "other": "slow again"}


def test_runs_table_shows_what_each_run_reached(two_runs):
    store, slow, fast = two_runs
    table = compare.runs_table(store.list_runs()).set_index("id")
    assert list(table.loc[[slow, fast], "name"]) == ["slow", "fast"]
    run = store.get(fast)
    row = table.loc[fast]
    assert row["status"] == "completed" and row["model"] == "mlp" and row["hidden"] == "50"
    assert row["lr"] == 0.01 and row["batch_size"] == 64 and row["epochs"] == "2/2" and row["device"] == "cpu"
    assert row["test_accuracy"] == run.summary["test_accuracy"] > 0.5
    assert row["best_val_accuracy"] == run.summary["best_val_accuracy"]
    assert row["duration_s"] == pytest.approx(run.summary["seconds"])
    assert isinstance(row["created"], pd.Timestamp)


def test_runs_table_of_a_run_not_started_yet_has_blanks_not_errors(tmp_path):
    store = RunStore(tmp_path)
    store.create_run(TrainConfig().validate().to_dict(), status="starting")
    row = compare.runs_table(store.list_runs()).iloc[0]
    assert math.isnan(row["test_accuracy"]) and row["epochs"] == "0/5"


def test_filter_by_text_status_and_model(two_runs):
    store, slow, fast = two_runs
    table = compare.runs_table(store.list_runs())
    assert list(compare.filter_table(table, "FAS")["id"]) == [fast]
    assert list(compare.filter_table(table, fast[-6:])["id"]) == [fast]
    assert len(compare.filter_table(table, "", ["completed"], ["mlp"])) == 2
    assert compare.filter_table(table, "", ["failed"]).empty and compare.filter_table(table, "", None, ["cnn"]).empty


def test_config_diff_table_marks_exactly_the_differing_fields(two_runs):
    store, slow, fast = two_runs
    diff = compare.config_diff_table([store.get(slow), store.get(fast)])
    assert list(diff.columns) == ["slow", "fast", "differs"]
    assert list(diff.index[diff["differs"]]) == ["lr", "batch_size"]
    assert diff.loc["lr", "slow"] == "0.001" and diff.loc["lr", "fast"] == "0.01"


def test_a_run_stored_before_a_field_existed_compares_at_that_fields_default(tmp_path):
    store = RunStore(tmp_path)
    old = store.create_run({k: v for k, v in TrainConfig().validate().to_dict().items()
                            if k not in ("precision", "compile")}, name="old")  # as stored before bf16/compile
    new = store.create_run(TrainConfig(lr=0.01).validate().to_dict(), name="new")
    runs = [store.get(old), store.get(new)]
    diff = compare.config_diff_table(runs)
    assert list(diff.index[diff["differs"]]) == ["lr"]
    assert diff.loc["precision", "old"] == "fp32"
    assert compare.trace_labels(runs) == {old: "lr=0.001", new: "lr=0.01"}


def test_overlay_series_has_a_curve_per_run(two_runs):
    store, slow, fast = two_runs
    overlay = compare.overlay_series(store, [slow, fast], max_points=5)
    assert set(overlay["loss_smooth"]) == {slow, fast} and set(overlay["val_accuracy"]) == {slow, fast}
    x, y = overlay["val_accuracy"][fast]
    assert x == [1.0, 2.0] and y == store.metrics(fast)["val_accuracy"]["value"]
    assert len(overlay["loss_smooth"][slow][0]) <= 5


def test_delete_removes_rows_metrics_and_files(tmp_path):
    store = RunStore(tmp_path)
    keep, gone = trained_run(store), trained_run(store)
    assert (store.run_dir(gone) / "last.pt").exists()
    store.delete(gone)
    reopened = RunStore(tmp_path)
    assert reopened.get(gone) is None and reopened.metrics(gone) == {}
    assert not store.run_dir(gone).exists()
    assert [run.id for run in reopened.list_runs()] == [keep] and reopened.metrics(keep)


def test_rename_and_tags_persist(tmp_path):
    store = RunStore(tmp_path)
    run_id = trained_run(store)
    store.rename(run_id, "  baseline  ")
    store.set_tags(run_id, ["mlp", " guide ", "", "mlp"])
    run = RunStore(tmp_path).get(run_id)
    assert run.name == "baseline" and run.tags == ["guide", "mlp"]
    assert compare.runs_table([run]).iloc[0]["tags"] == "guide, mlp"
    with pytest.raises(ValueError, match="1 to 100 characters"):
        store.rename(run_id, "   ")


def test_runs_table_lists_a_run_made_on_the_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "core.train", "--runs-dir", str(tmp_path), "--epochs", "1",
                             "--threads", "1", "--name", "from a shell", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    row = compare.runs_table(RunStore(tmp_path).list_runs()).set_index("id").loc[printed["run_id"]]
    assert row["name"] == "from a shell" and row["status"] == "completed"
    assert row["test_accuracy"] == pytest.approx(printed["test_accuracy"])


def test_lineage_names_parent_and_children(two_runs):
    store, slow, fast = two_runs
    child = store.create_run(store.get(slow).config, name="slow (resumed)", parent_id=slow, origin="resume")
    try:
        runs = store.list_runs()
        assert compare.lineage(store.get(child), runs) == [f"resumed from slow ({slow})"]
        assert compare.lineage(store.get(slow), runs) == [f"resumed as slow (resumed) ({child})"]
        assert compare.runs_table(runs).set_index("id").loc[child, "lineage"] == "resumed from slow"
    finally:
        store.finish(child, "failed")
        store.delete(child)


def replay_of(store: RunStore, original_id: str, **changes) -> str:
    """What launch_replay does, in this process: the original's config (and threads) as a new linked run."""
    config = TrainConfig.from_dict({**replay_config(store.get(original_id)).to_dict(), **changes}).validate()
    run_id = store.create_run(config.to_dict(), name="replay", parent_id=original_id, origin="replay")
    execute(store, run_id, config)
    return run_id


def test_replay_on_cpu_is_identical_and_a_different_run_is_not(two_runs):
    store, slow, fast = two_runs
    level, text = compare.replay_report(store, store.get(replay_of(store, slow)))
    assert level == "success" and text.startswith("Identical")
    level, text = compare.replay_report(store, store.get(replay_of(store, slow, lr=2e-3)))
    assert level == "error" and "must give identical curves" in text and "loss" in text
    with pytest.raises(ValueError, match="not a replay"):
        compare.replay_report(store, store.get(slow))


def test_replay_on_a_gpu_explains_small_differences(tmp_path):
    store = RunStore(tmp_path)
    original = trained_run(store)
    replay = replay_of(store, original, lr=1.1e-3)
    for run_id in (original, replay):
        store.update(run_id, device="cuda:0")
    level, text = compare.replay_report(store, store.get(replay))
    assert level == "warning" and "GPU kernels" in text and "on the CPU a replay matches exactly" in text
