"""Predict the guide's unlabelled test.csv images and write the competition's CSV (filename,label).

    python -m core.submission --run RUN_ID --out submission.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.data.catalog import load_dataset
from core.results.submission_csv import predict_images, write_submission
from core.store.run_store import RunStore, load_run_model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core.submission",
        description="Predict a guide-format test.csv with a trained run; write filename,label.")
    parser.add_argument("--run", required=True, help="the run whose model predicts")
    parser.add_argument("--dataset", default=None,
                        help="guide-format zip/folder or upload:… (default: the run's dataset)")
    parser.add_argument("--out", default="-", help="CSV file to write (default: - for standard output)")
    parser.add_argument("--checkpoint", default="last", help="last or best (default: last)")
    parser.add_argument("--runs-dir", default=None, help="run store folder (default: $DIGITLAB_RUNS_DIR or ./runs)")
    parser.add_argument("--data-dir", default=None, help="data folder with the upload cache (default: the run's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model, config = load_run_model(RunStore(args.runs_dir), args.run, args.checkpoint)
        data = load_dataset(args.dataset or config.dataset, config.val_fraction, args.data_dir or config.data_dir)
        text = write_submission(data, predict_images(model, data.predict_images))
        if args.out == "-":
            sys.stdout.write(text)
        else:
            Path(args.out).write_text(text)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(data.predict_names):,} predictions of run {args.run} on {data.name}"
          + ("" if args.out == "-" else f" written to {args.out}"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
