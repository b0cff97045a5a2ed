"""The guide's submission file: ``filename,label`` for each image of a guide-format test.csv."""
from __future__ import annotations

import csv
import io

import torch
from torch import nn

from core.data.digits import DigitData, normalize

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
