"""Predict the guide's unlabelled test.csv images and write the competition's CSV (filename,label)."""
from __future__ import annotations

import csv
import io

import torch
from torch import nn

from core.data import DigitData, normalize

HEADER = ("filename", "label")  # the guide's sample submission


def predict_images(model: nn.Module, images_uint8: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """uint8 (N, 28, 28) -> int64 (N,) predicted classes, in eval mode without gradients."""
    if images_uint8.dtype != torch.uint8 or images_uint8.dim() != 3:
        raise ValueError(f"images must be uint8 (N, 28, 28), got {images_uint8.dtype} {tuple(images_uint8.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()  # dropout off: the same image always gets the same answer
    try:
        with torch.no_grad():
            predicted = [model(normalize(chunk).to(device)).argmax(dim=1).cpu()
                         for chunk in images_uint8.split(batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(predicted).to(torch.int64) if predicted else torch.empty(0, dtype=torch.int64)


def write_submission(data: DigitData, predicted: torch.Tensor) -> str:
    """CSV text with one row per test.csv entry, in test.csv's order: filename,label."""
    if data.predict_images is None or not data.predict_names:
        raise ValueError(f"{data.name} has no test.csv images to predict; a submission needs a guide-format "
                         "dataset (a zip with test.csv).")
    if predicted.dim() != 1 or len(predicted) != len(data.predict_names):
        raise ValueError(f"predicted must hold one class per test.csv row ({len(data.predict_names)}), "
                         f"got shape {tuple(predicted.shape)}")
    if len(predicted) and not 0 <= int(predicted.min()) <= int(predicted.max()) < len(data.classes):
        raise ValueError(f"predicted classes must be 0–{len(data.classes) - 1}, "
                         f"got {int(predicted.min())}–{int(predicted.max())}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(zip(data.predict_names, predicted.tolist()))
    return out.getvalue()


def build_parser():
    import argparse

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
    import sys
    from pathlib import Path

    from core.checkpoints import load_run_model
    from core.data import load_dataset
    from core.runs import RunStore

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
