"""The dashboard's side of the warm worker (:mod:`core.warm_worker`): start it, ask it for a run.

Protocol, one JSON object per line: the server writes ``{"ready": true}`` once warm; then the
dashboard writes ``{"run_id", "runs_dir", "env"}`` to its stdin and reads ``{"pid": N}`` back.
Until the server is ready, runs start cold, so no click waits for a warm-up. End of stdin
(the dashboard went away) ends the server; the runs it started live on in their own sessions.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

# The repository root: workers run `python -m core.X` from here, so `core` imports as it does for
# this process, with no path set up.
REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "DIGITLAB_"  # settings a run reads from the environment, passed with each request
REPLY_TIMEOUT_S = 10.0  # a fork and a line back take milliseconds; silence this long means it is stuck


class WarmWorker:
    """The dashboard's handle on a warm server process; ``start`` returns None when it cannot serve."""

    def __init__(self, python: str = sys.executable):
        self.lock = threading.Lock()  # Streamlit serves each browser tab from its own thread
        self.ready = False
        self.process = subprocess.Popen(
            [python, "-m", "core.warm_worker"], cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, text=True, bufsize=1)

    def start(self, run_id: str, runs_dir: Path) -> int | None:
        """Fork a worker for ``run_id``; its pid, or None if the server is gone or does not answer."""
        request = {"run_id": run_id, "runs_dir": str(Path(runs_dir).resolve()),
                   "env": {key: value for key, value in os.environ.items() if key.startswith(ENV_PREFIX)}}
        with self.lock:
            if self.process.poll() is not None or not self._is_ready():
                return None
            try:
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                ready, _, _ = select.select([self.process.stdout], [], [], REPLY_TIMEOUT_S)
                reply = self.process.stdout.readline() if ready else ""
            except OSError:
                return None
        if not reply:
            self.close()  # silent or dead: a late reply would be read as the answer to the next request
            return None
        return int(json.loads(reply)["pid"])

    def _is_ready(self) -> bool:
        """Whether the server has said it is warm, without waiting for it."""
        if not self.ready and select.select([self.process.stdout], [], [], 0)[0]:
            self.ready = json.loads(self.process.stdout.readline() or "{}").get("ready", False)
        return self.ready

    def wait_ready(self, timeout_s: float = 120.0) -> bool:
        """Block until the server is warm (for tests and benchmarks that want the warm path)."""
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        return bool(ready) and self._is_ready()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
