"""torchrun with two CPU processes (gloo): one run in the store, the same accuracy as one process."""
import json
import subprocess
import sys
from pathlib import Path

from core.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def run_json(*command: str) -> dict:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_process_data_parallel_run_matches_one_process(tmp_path):
    flags = ("--epochs", "5", "--batch-size", "128", "--runs-dir", str(tmp_path), "--json")
    single = run_json(sys.executable, "-m", "core.train", *flags)
    double = run_json(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                      "-m", "core.train", *flags)
    assert double["status"] == "completed" and double["processes"] == 2
    assert abs(double["test_accuracy"] - single["test_accuracy"]) <= 0.02
    assert abs(double["val_accuracy"] - single["val_accuracy"]) <= 0.02
    runs = RunStore(tmp_path).list_runs()
    assert len(runs) == 2, "rank 1 must not write a run of its own"
    recorded = RunStore(tmp_path).get(double["run_id"])
    assert recorded.status == "completed" and recorded.summary["processes"] == 2
    assert len(RunStore(tmp_path).metrics(double["run_id"])["val_accuracy"]["value"]) == 5
