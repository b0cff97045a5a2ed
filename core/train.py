"""Train a digit classifier from the command line, recorded as a run in the store.

    python -m core.train --model mlp --epochs 5 --json

The dashboard starts this same entry point (``--run-id``) in its own process for every run.
"""
from __future__ import annotations

import argparse
import json
import sys

import torch
import torch.distributed as dist

from core.config import TrainConfig, add_config_flags, config_from_flags
from core.data.catalog import load_dataset
from core.data.digits import DigitData
from core.results import export
from core.runner.execute import execute, failure_message
from core.runner.launch import copy_history, load_resume
from core.store.run_store import RunStore, load_checkpoint
from core.training.distributed import distributed_context
from core.training.trainer import train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.train", description="Train a digit classifier and record it in the run store.")
    add_config_flags(parser)
    parser.add_argument("--name", default="", help="a name for the run (default: its id)")
    parser.add_argument("--runs-dir", default=None, help="run store folder (default: $DIGITLAB_RUNS_DIR or ./runs)")
    parser.add_argument("--run-id", default=None,
                        help="train an existing run created by the dashboard (default: new run)")
    parser.add_argument("--resume", default=None, metavar="RUN_ID",
                        help="continue RUN_ID from its last checkpoint as a new run; --epochs is the new total "
                             "(default: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the result (default: off)")
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="also write the run's metrics as TensorBoard event files under DIR/<run id> at the end "
                             "(needs the tensorboard package; default: off)")
    return parser


def prepare(args, store: RunStore) -> tuple[str, TrainConfig, DigitData, dict | None]:
    """Resolve the run to train (new, dashboard-created, or resumed); raise ValueError on bad input."""
    if args.run_id:  # created by the dashboard, which validated its config
        run = store.get(args.run_id)
        if run is None:
            raise ValueError(f"--run-id {args.run_id}: no such run in {store.root}")
        try:
            config = TrainConfig.from_dict(run.config).validate()
            resume = load_resume(store, run)
            return args.run_id, config, load_dataset(config.dataset, config.val_fraction, config.data_dir), resume
        except ValueError as exc:
            store.finish(args.run_id, "failed", error=str(exc))
            raise
    resume = load_checkpoint(store, args.resume, "last") if args.resume else None
    config = config_from_flags(args, base=resume["config"] if resume else None)
    if resume and config.epochs <= resume["epoch"]:
        raise ValueError(f"--epochs must be more than the {resume['epoch']} epochs run {args.resume} "
                         f"already trained, got {config.epochs}")
    data = load_dataset(config.dataset, config.val_fraction, config.data_dir)  # before the run exists
    run_id = store.create_run(config.to_dict(), name=args.name, parent_id=args.resume,
                              origin="resume" if resume else "")
    if resume:
        copy_history(store, args.resume, run_id)
    return run_id, config, data, resume


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rank, world = distributed_context()
    try:
        if args.tensorboard:
            export.require_tensorboard()  # refuse before training, not after
        store = RunStore(args.runs_dir)
        if rank == 0:  # only rank 0 records the run
            run_id, config, data, resume = prepare(args, store)
        else:
            resume = load_checkpoint(store, args.resume, "last") if args.resume else None
            config = config_from_flags(args, base=resume["config"] if resume else None)
            data = load_dataset(config.dataset, config.val_fraction, config.data_dir)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if rank != 0:
            train(config, (), data=data, resume=resume)
            return 0
        result = execute(store, run_id, config, data=data, resume=resume)
    except Exception as exc:  # noqa: BLE001 - recorded on the run by execute(); say it plainly here too
        print(f"error: {failure_message(exc, store)}", file=sys.stderr)
        if not isinstance(exc, (OSError, MemoryError, torch.OutOfMemoryError)):
            raise  # an unexpected error keeps its traceback in the log
        return 1
    finally:
        if world > 1:
            dist.destroy_process_group()
    if args.tensorboard:
        print(f"TensorBoard events: {export.export_tensorboard(store, run_id, args.tensorboard)}", file=sys.stderr)
    if args.json:
        print(json.dumps({"run_id": run_id, **result.summary()}))
    return 0 if result.status in ("completed", "stopped") else 1


if __name__ == "__main__":
    raise SystemExit(main())
