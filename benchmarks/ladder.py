"""The speed-up ladder for ``make bench``: the same rungs, runs and numbers as the dashboard's Speed-up ladder page.

This process is the ladder's scheduler (``core.sweep.scheduler.run_sweep``); each rung trains in
its own worker, one at a time, in the benchmark's temporary store.
"""
from __future__ import annotations

from benchmarks.report import Report, progress, seconds, table
from core.store.run_store import RunStore
from core.store.sweep_store import SweepStore
from core.sweep.ladder import BASE, SEEDS, TARGET, create_ladder, ladder_results
from core.sweep.scheduler import run_sweep


def ladder_section(store: RunStore, report: Report, quick: bool) -> None:
    seeds = SEEDS[:1] if quick else SEEDS
    ladder_id = create_ladder(store, seeds=seeds)
    total = len(SweepStore(store).items(ladder_id))
    progress(f"speed-up ladder: {total} runs, one at a time, {BASE.epochs} epochs each")
    run_sweep(store, ladder_id, report=lambda items, runs: None)
    rungs = ladder_results(store, SweepStore(store).get(ladder_id))

    def times(values: list) -> str:
        return " / ".join("never" if value is None else seconds(value) for value in values)

    rows = [[f"{index + 1}. {rung['name']}", f"`{rung['change']}`", times(rung["seconds"]),
             " / ".join("—" if e is None else str(e) for e in rung["epochs_to_target"]),
             "—" if rung["epoch_seconds"] is None else seconds(rung["epoch_seconds"]),
             " / ".join("—" if a is None else f"{a:.1%}" for a in rung["final_test_accuracy"]), rung["words"]]
            for index, rung in enumerate(rungs)]
    missed = [rung["name"] for rung in rungs if rung["mean_seconds"] is None]
    report.verdict(f"every rung reaches {TARGET:.0%} test accuracy within {BASE.epochs} epochs, every seed",
                   f"missed by {', '.join(missed)}" if missed else
                   f"all {len(rungs)} rungs; the slowest in {seconds(max(r['mean_seconds'] for r in rungs))}",
                   not missed)
    report.add(f"Speed-up ladder: seconds to {TARGET:.0%} test accuracy", "\n\n".join([
        f"The CNN on the embedded digits, {BASE.epochs} epochs, Adam lr {BASE.lr:g}, {BASE.threads} thread, "
        f"seeds {', '.join(map(str, seeds))}; each rung adds one change to the rung above it. Seconds to target: "
        "training and each epoch's evaluation until the first epoch whose test accuracy reached the target "
        "(start-up excluded), per seed. The same ladder is one click on the dashboard's Speed-up ladder page.",
        table(["rung", "change", "seconds to target (per seed)", "epoch reached", "per epoch", "final test accuracy",
               "against the rung above"], rows)]))
