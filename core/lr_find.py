"""Suggest a learning rate with a range test, for the model and optimizer the flags describe.

    python -m core.lr_find --optimizer adam --json

Takes the same config flags as ``python -m core.train``; nothing is recorded in the run store.
``--json`` prints ``{"suggested_lr": ..., "lr": [...], "loss": [...], "raw_loss": [...]}``: the rate of
each step, the smoothed loss after it (and each batch's own loss); ``suggested_lr`` is null when the
loss broke down before the test could tell.
"""
from __future__ import annotations

import argparse
import json
import sys

from core.config import add_config_flags, config_from_flags
from core.data.catalog import load_dataset
from core.training.lr_find import END_LR, START_LR, STEPS, lr_find


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.lr_find", description=__doc__.split("\n")[0],
        epilog="The suggestion is a tenth of the rate where the smoothed loss was lowest (fastai's 'minimum').")
    add_config_flags(parser)
    parser.add_argument("--start-lr", type=float, default=START_LR, help=f"first rate (default: {START_LR:g})")
    parser.add_argument("--end-lr", type=float, default=END_LR, help=f"last rate (default: {END_LR:g})")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"steps, the rate growing exponentially "
                                                                 f"(default: {STEPS})")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: a short table)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_flags(args)
        data = load_dataset(config.dataset, config.val_fraction, config.data_dir)
        result = lr_find(config, data, args.start_lr, args.end_lr, args.steps)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    shown = range(0, len(result.lr), max(1, len(result.lr) // 12))
    print("learning rate   smoothed loss")
    for i in shown:
        print(f"{result.lr[i]:13.3g}   {result.loss[i]:13.4f}")
    if result.suggested_lr is None:
        print("\nNo suggestion: the loss broke down within the first steps. Lower --start-lr.")
    else:
        print(f"\nsuggested learning rate for {config.optimizer}: {result.suggested_lr:.3g} "
              f"(a tenth of where the smoothed loss was lowest)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
