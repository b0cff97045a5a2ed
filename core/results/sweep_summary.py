"""A sweep's outcome as numbers: one row per run, the best run, each config's mean over seeds, each field's effect.

The best run is picked on validation accuracy, never on the test set: choosing by the test digits
would make their accuracy an optimistic estimate of how the chosen config does on new digits.
"""
from __future__ import annotations

import pandas as pd

from core.results.compare import LEGEND_IGNORES, differing_fields, format_value
from core.results.seed_noise import config_key
from core.store.run_store import Run, RunStore
from core.store.sweep_store import Sweep, SweepItem, SweepStore

COUNTED = ("completed",)  # runs whose final numbers count; a stopped or failed run says little about its config


def run_rows(items: list[SweepItem], runs: dict[str, Run]) -> list[dict]:
    """One dict per item: run_id, status (``queued`` before it starts, ``deleted`` if its run is gone),
    val_accuracy and test_accuracy (final epoch; None until it finishes), config, label, position."""
    rows = []
    for item in items:
        run = runs.get(item.run_id) if item.run_id else None
        status = "queued" if item.run_id is None else run.status if run else "deleted"
        summary = run.summary if run else {}
        rows.append({"run_id": item.run_id, "status": status, "val_accuracy": summary.get("val_accuracy"),
                     "test_accuracy": summary.get("test_accuracy"), "config": run.config if run else item.config,
                     "label": item.label, "position": item.position})
    return rows


def counts(row: dict) -> bool:
    return row["status"] in COUNTED and row["val_accuracy"] is not None


def counted(rows: list[dict]) -> list[dict]:
    return [row for row in rows if counts(row)]


def best_run(rows: list[dict]) -> dict | None:
    """The finished run with the highest validation accuracy (the earliest on a tie); None before any finished."""
    candidates = counted(rows)
    return max(candidates, key=lambda row: (row["val_accuracy"], -row["position"])) if candidates else None


def seed_groups(rows: list[dict]) -> list[dict]:
    """Runs of one config (all fields but the seed), in sweep order: their seeds and validation accuracy over them.

    Only finished runs count. ``std_val_accuracy`` is the sample standard deviation (n - 1), 0 for a single
    seed; ``min``/``max`` give the range the seed noise verdict uses. Means are None while no run has finished.
    """
    groups: dict[str, dict] = {}
    for row in rows:
        config = {k: v for k, v in row["config"].items() if k != "seed"}
        group = groups.setdefault(config_key(row["config"]), {"config": config, "seeds": [], "run_ids": [],
                                                              "values": []})
        if counts(row):
            group["seeds"].append(row["config"].get("seed", 0))
            group["run_ids"].append(row["run_id"])
            group["values"].append(row["val_accuracy"])
    result = []
    for group in groups.values():
        values = pd.Series(group.pop("values"), dtype=float)
        result.append({**group, "mean_val_accuracy": float(values.mean()) if len(values) else None,
                       "std_val_accuracy": float(values.std(ddof=1)) if len(values) > 1 else 0.0 if len(values)
                       else None, "min_val_accuracy": float(values.min()) if len(values) else None,
                       "max_val_accuracy": float(values.max()) if len(values) else None})
    return result


def varying_fields(rows: list[dict]) -> list[str]:
    """Config fields that take more than one value in the sweep, seed aside, in config order."""
    return differing_fields([row["config"] for row in rows], ignore=("seed", *LEGEND_IGNORES))


def results_table(rows: list[dict]) -> pd.DataFrame:
    """The page's table: label, status, each varying field, seed, accuracies (fractions), run id."""
    fields = varying_fields(rows)
    table = pd.DataFrame([{"#": row["position"] + 1, "config": row["label"], "status": row["status"],
                           **{name: format_value(row["config"].get(name)) for name in fields},
                           "seed": row["config"].get("seed", 0), "val_accuracy": row["val_accuracy"],
                           "test_accuracy": row["test_accuracy"], "run_id": row["run_id"] or ""} for row in rows])
    for column in ("val_accuracy", "test_accuracy"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table


def parallel_table(rows: list[dict]) -> pd.DataFrame:
    """Finished runs, one row each: the varying fields (numbers stay numbers) and val_accuracy."""
    fields = varying_fields(rows)
    return pd.DataFrame([{**{name: _axis_value(row["config"].get(name)) for name in fields},
                          "val_accuracy": row["val_accuracy"]} for row in counted(rows)],
                        columns=[*fields, "val_accuracy"])


def _axis_value(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else format_value(value)


def field_effect(groups: list[dict], field: str, fields: list[str]) -> pd.DataFrame:
    """One row per config: its value of ``field``, mean/min/max validation accuracy over seeds, and the
    other varying fields as a label, so the page can draw accuracy against value with seeds as spread."""
    others = [name for name in fields if name != field]
    rows = [{"value": _axis_value(group["config"].get(field)), "mean": group["mean_val_accuracy"],
             "low": group["min_val_accuracy"], "high": group["max_val_accuracy"], "seeds": len(group["seeds"]),
             "others": ", ".join(f"{name}={format_value(group['config'].get(name))}" for name in others)}
            for group in groups if group["mean_val_accuracy"] is not None]
    return pd.DataFrame(rows, columns=["value", "mean", "low", "high", "seeds", "others"])


def progress_counts(rows: list[dict]) -> dict[str, int]:
    """How many items are in each state: queued, training (starting or running), finished, and all."""
    training = sum(row["status"] in ("starting", "running") for row in rows)
    queued = sum(row["status"] == "queued" for row in rows)
    return {"total": len(rows), "queued": queued, "training": training,
            "finished": len(rows) - queued - training}


def sweep_rows(store: RunStore, sweep_id: str) -> tuple[Sweep, list[dict]]:
    """The sweep and its rows, read from the store; ValueError if there is no such sweep."""
    sweeps = SweepStore(store)
    sweep = sweeps.get(sweep_id)
    if sweep is None:
        raise ValueError(f"sweep {sweep_id} does not exist in {store.root}; list them with the Sweeps page")
    runs = {run.id: run for run in store.list_runs()}
    return sweep, run_rows(sweeps.items(sweep_id), runs)


def summarize(store: RunStore, sweep_id: str) -> dict:
    """What ``python -m core.sweep --json`` prints: sweep_id, status, runs, best, groups."""
    sweep, rows = sweep_rows(store, sweep_id)
    public = [{key: row[key] for key in ("run_id", "status", "val_accuracy", "test_accuracy", "config")}
              for row in rows]
    best = best_run(rows)
    return {"sweep_id": sweep.id, "status": sweep.status, "runs": public,
            "best": public[best["position"]] if best else None,
            "groups": [{key: group[key] for key in ("config", "seeds", "mean_val_accuracy", "std_val_accuracy")}
                       for group in seed_groups(rows)]}
