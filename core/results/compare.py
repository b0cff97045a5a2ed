"""Runs side by side: the runs table, which settings differ, overlaid curves, lineage, replay checks."""
from __future__ import annotations

import time

import pandas as pd

from core.config import TrainConfig
from core.results.live import MAX_POINTS
from core.store.run_store import Run, RunStore

TABLE_COLUMNS = ("id", "name", "status", "created", "duration_s", "dataset", "model", "hidden", "optimizer", "lr",
                 "batch_size", "epochs", "device", "best_val_accuracy", "val_accuracy", "test_accuracy", "tags",
                 "lineage")
# Series drawn when runs are compared: x is the step for the loss, the epoch for accuracy.
OVERLAY_SERIES = {"loss_smooth": "step", "val_accuracy": "epoch"}
LEGEND_IGNORES = ("data_dir",)  # a folder path says nothing about how a model learned
ORIGIN_WORDS = {"resume": ("resumed from", "resumed as"), "replay": ("replay of", "replayed as")}


def format_value(value) -> str:
    """A config value as a person reads it: 0.001, 128-64, True."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value is None or value == "" else str(value)


def _duration(run: Run, now: float) -> float | None:
    """Training seconds of a finished run; time since creation for one still training."""
    if run.active:
        return max(0.0, now - run.created)
    seconds = run.summary.get("seconds")
    return float(seconds) if isinstance(seconds, (int, float)) else None


def _epochs(run: Run) -> str:
    done = run.summary.get("epochs_completed", run.progress.get("epoch", 0))
    return f"{done}/{run.config.get('epochs', '?')}"


def lineage_note(run: Run, names: dict[str, str]) -> str:
    """'resumed from <parent name>' / 'replay of <parent name>'; '' for a fresh run."""
    if not run.parent_id or run.origin not in ORIGIN_WORDS:
        return ""
    return f"{ORIGIN_WORDS[run.origin][0]} {names.get(run.parent_id, run.parent_id + ' (deleted)')}"


def runs_table(runs: list[Run], now: float | None = None) -> pd.DataFrame:
    """One row per run with what a person compares runs by; accuracies are fractions (0..1), NaN if none."""
    now = time.time() if now is None else now
    names = {run.id: run.name for run in runs}
    rows = [{
        "id": run.id, "name": run.name, "status": run.status,
        "created": pd.Timestamp(run.created, unit="s", tz="UTC").tz_convert(None),
        "duration_s": _duration(run, now), "dataset": run.dataset, "model": run.model,
        "hidden": format_value(run.config.get("hidden", [])), "optimizer": run.config.get("optimizer", ""),
        "lr": run.config.get("lr"), "batch_size": run.config.get("batch_size"), "epochs": _epochs(run),
        "device": run.device or run.summary.get("device", ""),
        "best_val_accuracy": run.summary.get("best_val_accuracy"), "val_accuracy": run.summary.get("val_accuracy"),
        "test_accuracy": run.summary.get("test_accuracy"), "tags": ", ".join(run.tags),
        "lineage": lineage_note(run, names),
    } for run in runs]
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    for column in ("duration_s", "lr", "best_val_accuracy", "val_accuracy", "test_accuracy"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    table["batch_size"] = pd.to_numeric(table["batch_size"], errors="coerce").astype("Int64")
    return table


def filter_table(table: pd.DataFrame, text: str = "", statuses: list[str] | None = None,
                 models: list[str] | None = None) -> pd.DataFrame:
    """Rows whose name, id, tags, dataset or lineage contain ``text`` (any case), of the given statuses/models."""
    keep = pd.Series(True, index=table.index)
    if text.strip():
        haystack = table[["name", "id", "tags", "dataset", "lineage"]].astype(str).agg(" ".join, axis=1)
        keep &= haystack.str.contains(text.strip(), case=False, regex=False)
    if statuses:
        keep &= table["status"].isin(statuses)
    if models:
        keep &= table["model"].isin(models)
    return table[keep].reset_index(drop=True)


def differing_fields(configs: list[dict], ignore: tuple[str, ...] = ()) -> list[str]:
    """Config fields whose value is not the same in every config (missing counts as different), in field order."""
    fields: list[str] = []
    for config in configs:
        fields += [name for name in config if name not in fields and name not in ignore]
    missing = object()
    return [name for name in fields
            if len({repr(config.get(name, missing)) for config in configs}) > 1]


def legend_label(config: dict, fields: list[str]) -> str:
    """'lr=0.01, batch_size=64': the values of ``fields`` in this config."""
    return ", ".join(f"{name}={format_value(config.get(name))}" for name in fields)


def with_defaults(config: dict) -> dict:
    """A stored config with the fields added since it was stored, at the defaults it trained with."""
    return {**TrainConfig().to_dict(), **config}


def trace_labels(runs: list[Run]) -> dict[str, str]:
    """A legend entry per run naming the settings that differ; the run name where none do or labels clash."""
    configs = {run.id: with_defaults(run.config) for run in runs}
    fields = differing_fields(list(configs.values()), ignore=LEGEND_IGNORES)
    labels = {run.id: legend_label(configs[run.id], fields) or run.name for run in runs}
    counts = pd.Series(list(labels.values())).value_counts()
    return {run.id: labels[run.id] if counts[labels[run.id]] == 1 or labels[run.id] == run.name
            else f"{labels[run.id]} · {run.name}" for run in runs}


def overlay_series(store: RunStore, run_ids: list[str], max_points: int = MAX_POINTS) -> dict[str, dict]:
    """{series: {run_id: (x, y)}} for OVERLAY_SERIES, each curve downsampled to ``max_points``."""
    overlay: dict[str, dict] = {name: {} for name in OVERLAY_SERIES}
    for run_id in run_ids:
        series = store.metrics(run_id, tuple(OVERLAY_SERIES), max_points=max_points)
        for name, x_axis in OVERLAY_SERIES.items():
            if name in series:
                overlay[name][run_id] = (series[name][x_axis], series[name]["value"])
    return overlay


def column_names(runs: list[Run]) -> list[str]:
    """Unique column headings: the run name, with the id's tail where two runs share a name."""
    names = [run.name for run in runs]
    return [run.name if names.count(run.name) == 1 else f"{run.name} ({run.id[-6:]})" for run in runs]


def config_diff_table(runs: list[Run]) -> pd.DataFrame:
    """Config fields as rows, one column per run (values as text), and a boolean ``differs`` column."""
    configs = [with_defaults(run.config) for run in runs]
    fields: list[str] = []
    for config in configs:
        fields += [name for name in config if name not in fields]
    table = pd.DataFrame({heading: [format_value(config.get(name)) for name in fields]
                          for heading, config in zip(column_names(runs), configs)},
                         index=pd.Index(fields, name="field"))
    differing = set(differing_fields(configs))
    table["differs"] = [name in differing for name in fields]
    return table


def lineage(run: Run, runs: list[Run]) -> list[str]:
    """Where a run came from and what came of it: 'resumed from …', 'replayed as …'."""
    names = {other.id: other.name for other in runs}
    lines = [f"{lineage_note(run, names)} ({run.parent_id})"] if lineage_note(run, names) else []
    lines += [f"{ORIGIN_WORDS[child.origin][1]} {child.name} ({child.id})" for child in runs
              if child.parent_id == run.id and child.origin in ORIGIN_WORDS]
    return lines


def replay_report(store: RunStore, replay: Run) -> tuple[str, str]:
    """(level, message) on whether a replay reproduced its original; level is success, info, warning or error."""
    if replay.origin != "replay" or not replay.parent_id:
        raise ValueError(f"Run {replay.id} is not a replay; pick a run whose lineage says 'replay of …'.")
    original = store.get(replay.parent_id)
    if original is None:
        return "warning", "The original run was deleted, so there is nothing to compare the replay with."
    if replay.active or original.active:
        return "info", "Still training: check again when both runs have finished."
    result = replay_matches(store, original.id, replay.id)
    if result["identical"]:
        return "success", (f"Identical: all {len(result['series'])} series ({', '.join(result['series'])}) match "
                           "the original value for value. Same config, seed and threads give the same run.")
    differing, worst = ", ".join(result["differing"]), result["max_abs_difference"]
    if worst == float("inf"):
        return "warning", (f"The runs logged different numbers of points in {differing}: one of them stopped "
                           f"early ({original.status} vs {replay.status}), so only a full replay can match.")
    if original.device != replay.device:
        return "warning", (f"The replay ran on {replay.device or '?'}, the original on {original.device or '?'}: "
                           f"different hardware rounds differently (largest difference {worst:.3g}, in {differing}).")
    if original.device != "cpu":
        return "warning", (f"The curves differ slightly on {original.device} (largest difference {worst:.3g}, in "
                           f"{differing}). GPU kernels (cuDNN algorithm choice, atomic additions) are not "
                           "bit-exact from run to run; on the CPU a replay matches exactly.")
    return "error", (f"The replay does not match (largest difference {worst:.3g}, in {differing}). On the CPU "
                     "the same config, seed and threads must give identical curves: did the code change in between?")


TIMING_SERIES = ("seconds", "samples_per_s")  # wall-clock numbers differ on every run, by nature


def replay_matches(store: RunStore, original_id: str, replay_id: str) -> dict:
    """Compare two runs' metric series value by value; ``identical`` is exact equality."""
    a, b = store.metrics(original_id), store.metrics(replay_id)
    names = sorted((set(a) | set(b)) - set(TIMING_SERIES))
    differences = {}
    for name in names:
        left, right = a.get(name, {}).get("value", []), b.get(name, {}).get("value", [])
        if len(left) != len(right):
            differences[name] = float("inf")
        elif left:
            differences[name] = max(abs(x - y) for x, y in zip(left, right))
    worst = max(differences.values(), default=0.0)
    return {"identical": worst == 0.0, "max_abs_difference": worst, "series": names,
            "differing": sorted(n for n, d in differences.items() if d > 0)}
