"""Run a sweep from the command line: every combination of the values given (or N random draws), times seeds.

    python -m core.sweep --lr 0.0003,0.003 --seeds 0,1 --epochs 2 --json
    python -m core.sweep --random 8 --lr 0.0001:0.01 --hidden 50,100,128-64 --seeds 0,1
    python -m core.sweep --resume SWEEP_ID       # finish a stopped or interrupted sweep
    python -m core.sweep --ladder --json         # the speed-up ladder

This process is the sweep's scheduler; each run trains in its own worker, as from the dashboard.
Ctrl-C stops the sweep as a whole (its runs stop after their current batch); --resume finishes it.
"""
from __future__ import annotations

import argparse
import json
import sys

from core.config import FLAG_HELP, TrainConfig
from core.results.sweep_summary import progress_counts, run_rows, summarize
from core.runner.capacity import MAX_RUNS_ENV, max_concurrent_runs
from core.store.run_store import RunStore
from core.store.sweep_store import SweepStore
from core.sweep.control import create_sweep
from core.sweep.ladder import create_ladder
from core.sweep.plan import DEFAULTS, spec_from_text, sweepable_fields
from core.sweep.scheduler import run_sweep

# List fields: one value joins its numbers with '-', since commas separate the values to try.
SWEEP_HELP = {"hidden": "hidden layer sizes, one value's layers joined by '-' (e.g. 50,128-64 tries two MLPs)",
              "channels": "CNN conv channels, one value's two numbers joined by '-' (e.g. 8-16,16-32)"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.sweep", description="Train every combination of the values given (or random draws "
        "from ranges), times seeds, as runs in the store; print the best config and each config's mean over seeds.",
        epilog="Values: comma-separated alternatives (--lr 0.001,0.003); one value of a list field joins its "
               "numbers with '-' (--hidden 50,128-64); LOW:HIGH is a range to draw from, with --random N "
               "(lr, weight_decay and batch_size log-uniformly). Fields not given keep their default.")
    for name in sweepable_fields():
        default = getattr(DEFAULTS, name)
        shown = "-".join(map(str, default)) if isinstance(default, tuple) else default
        what = SWEEP_HELP.get(name) or FLAG_HELP.get(name, name.replace("_", " "))
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None, metavar="VALUES",
                            help=f"{what} (default: {shown if shown != '' else 'preset'})")
    parser.add_argument("--seeds", default="0", help="seeds for every config, comma-separated (default: 0)")
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="draw N configs at random from the values and ranges instead of every combination "
                             "(default: 0 = every combination)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the random draws (default: 0)")
    parser.add_argument("--jobs", type=int, default=0,
                        help="runs training at once; never more than DIGITLAB_MAX_RUNS (default: 0 = the cores "
                             "divided by each run's threads)")
    parser.add_argument("--config", help="JSON file of config fields every run starts from (default: none)")
    parser.add_argument("--name", default="", help="a name for the sweep (default: its id)")
    parser.add_argument("--runs-dir", default=None, help="run store folder (default: $DIGITLAB_RUNS_DIR or ./runs)")
    parser.add_argument("--resume", metavar="SWEEP_ID", default=None,
                        help="finish a stopped or interrupted sweep: its unfinished runs train again (default: none)")
    parser.add_argument("--ladder", action="store_true",
                        help="run the speed-up ladder: seconds to 97%% test accuracy, one speed-up at a time "
                             "(default: off)")
    # The dashboard's scheduler: run the sweep as it is; never reopen one stopped before this process started.
    parser.add_argument("--queued", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object at the end: runs, best, groups (default: off)")
    return parser


def base_config(path: str | None) -> dict:
    if not path:
        return {}
    try:
        loaded = json.loads(open(path).read())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"--config {path}: cannot read a JSON object ({exc})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"--config {path} must hold a JSON object of config fields")
    TrainConfig.from_dict(loaded).validate()  # names a bad field before anything is queued
    return loaded


def prepare(args, store: RunStore) -> str:
    """The sweep to run: resumed, the ladder, or a new one from the flags; ValueError on bad input."""
    sweeps = SweepStore(store)
    if args.resume:
        sweep = sweeps.get(args.resume)
        if sweep is None:
            raise ValueError(f"--resume {args.resume}: no such sweep in {store.root}")
        if not args.queued and sweep.status in ("stopped", "interrupted"):
            sweeps.reopen(args.resume)
        return args.resume
    if args.ladder:
        return create_ladder(store)
    given = {name: getattr(args, name) for name in sweepable_fields() if getattr(args, name) is not None}
    spec = spec_from_text(given, args.seeds, args.random, args.sample_seed, base=base_config(args.config))
    return create_sweep(store, spec, args.name, args.jobs)


def progress_printer(sweep_id: str):
    last = {}

    def report(items, runs) -> None:
        counts = progress_counts(run_rows(items, runs))
        if counts != last:
            last.update(counts)
            print(f"sweep {sweep_id}: {counts['finished']}/{counts['total']} finished · {counts['training']} "
                  f"training · {counts['queued']} queued", file=sys.stderr, flush=True)

    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        store = RunStore(args.runs_dir)
        sweep_id = prepare(args, store)
        sweep = SweepStore(store).get(sweep_id)
        cap = max_concurrent_runs()
        print(f"sweep {sweep_id}: {len(SweepStore(store).items(sweep_id))} runs, at most {min(sweep.jobs, cap)} at "
              f"once ({sweep.jobs} jobs; {MAX_RUNS_ENV}={cap})", file=sys.stderr, flush=True)
        sweep = run_sweep(store, sweep_id, report=progress_printer(sweep_id))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = summarize(store, sweep_id)
    if args.json:
        print(json.dumps(summary))
    else:
        best = summary["best"]
        print(f"sweep {sweep_id} {sweep.status}." + (f" Best validation accuracy {best['val_accuracy']:.2%}: run "
                                                      f"{best['run_id']}" if best else " No run finished."))
    return 0 if sweep.status == "completed" else 1


if __name__ == "__main__":
    raise SystemExit(main())
