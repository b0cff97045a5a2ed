"""A warm worker: one process with torch and the digits already loaded, forking a child per run.

    python -m core.warm_worker     (started by the dashboard; requests come on stdin)

Starting ``python -m core.train`` costs seconds before the first step, most of it ``import
torch`` and the first optimizer's import of ``torch._dynamo``. A child forked from a process
that has already imported everything starts at once and is otherwise the same worker: it runs
``core.train.main`` in its own session, writes its own ``worker.log``, and its pid is the
run's pid, so stop, SIGKILL and ``interrupted`` behave as for a worker started from scratch.
Only runs the dashboard starts come here; shell runs and ``torchrun`` start as before.

Forking after torch has started threads is unsafe (an OpenMP pool does not survive a fork),
so the server never runs a tensor operation: it imports modules and reads the embedded
digits' cached arrays, nothing more. The protocol is in :mod:`core.runner.warm`.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import torch._dynamo  # noqa: F401 - the first optimizer imports it: seconds and ~150 MB, paid once here

from core.data.embedded import embedded_cache_name, embedded_digits, user_cache_dir
from core.store import run_files
from core.train import main


def warm_up() -> None:
    """Read the embedded digits' cached arrays (the imports above did the rest); no tensor operation.

    Parsing them the first time needs pandas, whose threads (a jemalloc background thread among
    them) left forked children deadlocked at their first parallel tensor operation. So a missing
    cache is built by a short-lived process, and this one only reads the arrays back.
    """
    if not (user_cache_dir() / embedded_cache_name()).exists():
        build = "from core.data.embedded import embedded_digits, user_cache_dir; embedded_digits(user_cache_dir())"
        subprocess.run([sys.executable, "-c", build], cwd=Path(__file__).resolve().parents[1], check=False)
    embedded_digits(user_cache_dir())  # np.load of the cached arrays; lru-cached for the children


def run_child(request: dict) -> None:
    """In the forked child: become a worker for one run, then exit without returning to the server loop."""
    code = 1
    try:
        os.setsid()  # its own session: a Streamlit restart or Ctrl-C does not take it down
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # torch.compile waits for its compiler processes
        os.environ.update(request.get("env", {}))
        log = os.open(Path(request["runs_dir"]) / request["run_id"] / run_files.WORKER_LOG,
                      os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        code = main(["--run-id", request["run_id"], "--runs-dir", request["runs_dir"]])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the run's log is the only place left to say what happened
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished children: no zombies
    warm_up()
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            run_child(request)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
