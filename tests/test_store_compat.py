"""A run store written by an earlier Digit Lab (tests/fixtures/store_v1) still opens, inspects, exports, resumes."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.results import export
from core.results.inspection import inspect_summary
from core.store.run_store import RunStore, load_checkpoint, load_predictions, load_run_model

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/fixtures/store_v1"
RUN_ID = "20261201-110012-b95d63"  # an MLP with 4 hidden units, 2 epochs on the embedded digits


@pytest.fixture
def old_store(tmp_path, monkeypatch) -> RunStore:
    """A copy, so the committed fixture is never written to."""
    root = tmp_path / "runs"
    shutil.copytree(FIXTURE, root)
    monkeypatch.setenv("DIGITLAB_RUNS_DIR", str(root))
    return RunStore(root)


def test_old_store_lists_its_run_with_metrics(old_store):
    [run] = old_store.list_runs()
    assert (run.id, run.status, run.name) == (RUN_ID, "completed", "made before the redesign")
    assert run.config["hidden"] == [4] and run.summary["epochs_completed"] == 2
    assert old_store.metrics(RUN_ID, ("val_accuracy",))["val_accuracy"]["epoch"] == [1.0, 2.0]


def test_old_run_inspects_and_its_model_loads(old_store):
    summary = inspect_summary(old_store, RUN_ID)
    assert summary.epochs == [1, 2] and summary.matrix.sum() == 1000
    model, config = load_run_model(old_store, RUN_ID, "best")
    assert config.hidden == (4,) and sum(p.numel() for p in model.parameters()) == 3190
    assert load_checkpoint(old_store, RUN_ID)["epoch"] == 2


def test_old_run_exports(old_store):
    run = old_store.get(RUN_ID)
    assert export.metrics_csv(old_store, RUN_ID).startswith("name,step,epoch,value\n")
    assert json.loads(export.config_json(run))["hidden"] == [4]
    assert len(export.torchscript_bytes(load_run_model(old_store, RUN_ID)[0])) > 1000


def test_old_run_resumes_from_the_command_line(old_store):
    done = subprocess.run([sys.executable, "-m", "core.train", "--resume", RUN_ID, "--epochs", "3",
                           "--runs-dir", str(old_store.root), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and result["epochs_completed"] == 3
    child = old_store.get(result["run_id"])
    assert child.parent_id == RUN_ID and child.origin == "resume"
    assert old_store.metrics(child.id, ("val_accuracy",))["val_accuracy"]["epoch"] == [1.0, 2.0, 3.0]
    # The parent's whole-history predictions.pt carries on as the child's appended log.
    inherited, continued = load_predictions(old_store, RUN_ID), load_predictions(old_store, child.id)
    assert continued["epochs"].tolist() == [1, 2, 3]
    assert torch.equal(continued["predicted"][:2], inherited["predicted"])
    assert torch.equal(continued["confidence"][:2], inherited["confidence"])


@pytest.mark.parametrize("page", ["inspect", "runs"])
def test_old_run_opens_on_the_inspect_and_runs_pages(old_store, page):
    at = AppTest.from_file(str(ROOT / f"dashboard/app_pages/{page}.py"), default_timeout=60).run()
    assert not at.exception
    assert not at.error, [error.value for error in at.error]
    shown = " ".join(str(element.value) for element in at.selectbox) + " ".join(
        " ".join(map(str, frame.value.get("id", []))) for frame in at.dataframe if hasattr(frame.value, "get"))
    assert RUN_ID in shown or "made before the redesign" in shown
