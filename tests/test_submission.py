"""Submissions: one row per test.csv entry in its order; the CLI path from a zip to a CSV."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from core.data.catalog import load_dataset
from core.data.digits import DigitData
from core.results.submission_csv import predict_images, write_submission
from tests.helpers_archives import guide_files, zip_bytes

ROOT = Path(__file__).resolve().parents[1]


class PixelCount(nn.Module):
    """Predicts (number of bright pixels) mod 10: deterministic, different per image, no training."""

    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(0.9)  # would scramble answers if predict_images forgot eval()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):  # (B, 1, 28, 28) normalised -> (B, 10)
        count = (self.dropout(x) > 0.5).flatten(1).sum(1) % 10
        return nn.functional.one_hot(count, 10).float()


def guide_data(names=("b.png", "a.png", "c.png")) -> DigitData:
    images = torch.zeros((12, 28, 28), dtype=torch.uint8)
    return DigitData("upload:test", images, torch.arange(12) % 10, {"train": torch.arange(12)},
                     predict_images=torch.zeros((len(names), 28, 28), dtype=torch.uint8), predict_names=tuple(names))


def test_rows_follow_test_csv_order_with_the_competition_header():
    text = write_submission(guide_data(), torch.tensor([7, 0, 3]))
    assert text == "filename,label\nb.png,7\na.png,0\nc.png,3\n"


def test_names_with_commas_are_quoted():
    rows = list(csv.reader(io.StringIO(write_submission(guide_data(("x,1.png",)), torch.tensor([4])))))
    assert rows == [["filename", "label"], ["x,1.png", "4"]]


@pytest.mark.parametrize("data, predicted, message", [
    (load_dataset("embedded", 0.1), torch.tensor([1]), "embedded has no test.csv images to predict"),
    (guide_data(), torch.tensor([1, 2]), r"one class per test.csv row \(3\), got shape \(2,\)"),
    (guide_data(), torch.tensor([1, 2, 10]), "predicted classes must be 0–9, got 1–10"),
])
def test_bad_submissions_are_refused(data, predicted, message):
    with pytest.raises(ValueError, match=message):
        write_submission(data, predicted)


def test_predict_images_batches_in_eval_mode_and_restores_training():
    images = (torch.arange(10 * 784) % 251).to(torch.uint8).reshape(10, 28, 28)
    model = PixelCount().train()
    one_batch = predict_images(model, images, batch_size=1024)
    assert one_batch.dtype == torch.int64 and one_batch.shape == (10,)
    assert torch.equal(predict_images(model, images, batch_size=3), one_batch)
    assert len(set(one_batch.tolist())) > 1 and model.training
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, 28, 28\), got torch.float32"):
        predict_images(model, images.float())


def test_zip_trains_from_the_cli_and_yields_a_submission(tmp_path):
    archive = tmp_path / "digits.zip"
    archive.write_bytes(zip_bytes(guide_files(60, 12)))
    common = ["--runs-dir", str(tmp_path / "runs"), "--data-dir", str(tmp_path / "data")]
    train = subprocess.run([sys.executable, "-m", "core.train", "--dataset", str(archive), "--epochs", "1",
                            "--json", *common], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert train.returncode == 0, train.stderr
    run_id = json.loads(train.stdout.strip().splitlines()[-1])["run_id"]
    out = tmp_path / "submission.csv"
    submit = subprocess.run([sys.executable, "-m", "core.submission", "--run", run_id, "--dataset", str(archive),
                             "--out", str(out), *common], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert submit.returncode == 0, submit.stderr
    assert "12 predictions" in submit.stderr
    rows = list(csv.reader(out.open()))
    listed = [line.strip() for line in (guide_files(60, 12)["test.csv"].decode().splitlines()[1:])]
    assert rows[0] == ["filename", "label"] and [r[0] for r in rows[1:]] == listed
    assert all(r[1] in "0123456789" and len(r[1]) == 1 for r in rows[1:])


def test_cli_reports_a_missing_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "core.submission", "--run", "nope", "--runs-dir",
                             str(tmp_path / "runs")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "error: Run nope does not exist" in result.stderr
