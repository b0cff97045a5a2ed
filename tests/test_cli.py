"""`python -m core.train`: the --json contract, bad input, and the store it writes."""
import json
import subprocess
import sys
from pathlib import Path

from core.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.train", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_json_contract_and_the_run_it_records(tmp_path):
    done = cli("--epochs", "2", "--runs-dir", str(tmp_path), "--json", "--name", "from-shell")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("run_id", "status", "epochs_completed", "train_samples", "val_accuracy", "test_accuracy", "seconds"):
        assert key in result, f"--json must report {key}"
    assert result["status"] == "completed" and result["epochs_completed"] == 2
    assert result["train_samples"] == 3600 and 0.5 < result["test_accuracy"] <= 1
    assert 0 < result["seconds"] < 60
    run = RunStore(tmp_path).get(result["run_id"])
    assert run.status == "completed" and run.name == "from-shell"


def test_help_states_every_default():
    done = cli("--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for flag in ("--dataset", "--model", "--hidden", "--optimizer", "--lr", "--batch-size", "--epochs", "--seed",
                 "--device", "--threads", "--runs-dir", "--json"):
        assert flag in text
    assert "(default: 0.001)" in text and "(default: 128)" in text and "(default: adam)" in text


def test_bad_flag_value_is_a_message_and_no_run(tmp_path):
    done = cli("--lr", "-1", "--runs-dir", str(tmp_path))
    assert done.returncode == 2
    assert "error: lr must be from" in done.stderr and "Traceback" not in done.stderr
    assert RunStore(tmp_path).list_runs() == []


def test_config_file_is_a_door_too(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"batch_size": 0}))
    done = cli("--config", str(tmp_path / "bad.json"), "--runs-dir", str(tmp_path))
    assert done.returncode == 2 and "batch_size must be from 1" in done.stderr
    (tmp_path / "good.json").write_text(json.dumps({"epochs": 1, "hidden": [20]}))
    done = cli("--config", str(tmp_path / "good.json"), "--runs-dir", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    run = RunStore(tmp_path).get(json.loads(done.stdout)["run_id"])
    assert run.config["hidden"] == [20] and run.config["epochs"] == 1


def test_tensorboard_flag_refuses_before_training_when_tensorboard_is_missing(tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        done = cli("--epochs", "1", "--runs-dir", str(tmp_path), "--tensorboard", str(tmp_path / "tb"))
        assert done.returncode == 0 and list((tmp_path / "tb").rglob("events.out.tfevents*"))
        return
    done = cli("--epochs", "1", "--runs-dir", str(tmp_path), "--tensorboard", str(tmp_path / "tb"))
    assert done.returncode == 2 and "pip install tensorboard" in done.stderr
    assert RunStore(tmp_path).list_runs() == []
