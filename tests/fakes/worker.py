"""A stand-in for `python -m core.train --run-id ID --runs-dir DIR` that trains nothing: it marks the run
running, sleeps, and finishes it with a made-up accuracy, in well under a second and without importing torch.

Each start and end goes to DIR/fake-journal.txt, so a test can count how many ran at once.
"""
import json
import os
import sqlite3
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    run_id, runs_dir = argv[argv.index("--run-id") + 1], Path(argv[argv.index("--runs-dir") + 1])
    seconds = float(os.environ.get("FAKE_WORKER_S", "0.6"))
    journal = runs_dir / "fake-journal.txt"
    db = sqlite3.connect(runs_dir / "digitlab.sqlite", timeout=30, isolation_level=None)
    config = json.loads(db.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()[0])
    db.execute("UPDATE runs SET status = 'running', pid = ?, updated = ? WHERE id = ?", (os.getpid(), time.time(),
                                                                                          run_id))
    with open(journal, "a") as out:
        out.write(f"start {run_id} {time.time()}\n")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (runs_dir / run_id / "STOP").exists():
        time.sleep(0.02)
    stopped = (runs_dir / run_id / "STOP").exists()
    val = round(0.5 + config["lr"] * 10 + config["seed"] * 0.001, 6)  # a made-up accuracy that depends on lr
    with open(journal, "a") as out:
        out.write(f"end {run_id} {time.time()}\n")
    db.execute("UPDATE runs SET status = ?, summary = ?, updated = ? WHERE id = ?",
               ("stopped" if stopped else "completed",
                json.dumps({"val_accuracy": val, "test_accuracy": val - 0.01}), time.time(), run_id))


if __name__ == "__main__":
    main(sys.argv)
