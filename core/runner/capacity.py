"""How many runs may train at once, and a lock so that schedulers starting runs never exceed it together."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from core.store.run_store import RunStore

try:
    import fcntl
except ImportError:  # Windows: no flock; one scheduler at a time is then the user's care
    fcntl = None

MAX_RUNS_ENV = "DIGITLAB_MAX_RUNS"
DEFAULT_MAX_RUNS = 2
LOCK_NAME = ".launch.lock"  # in the store's root, next to the database


def max_concurrent_runs() -> int:
    """How many runs may train at once on this machine (env DIGITLAB_MAX_RUNS, default 2)."""
    try:
        return max(1, int(os.environ.get(MAX_RUNS_ENV, str(DEFAULT_MAX_RUNS))))
    except ValueError:
        return DEFAULT_MAX_RUNS


@contextmanager
def launch_lock(store: RunStore) -> Iterator[None]:
    """Held while counting active runs and creating new ones, so two schedulers cannot both take the last slot.

    An flock, so a scheduler killed while holding it releases it with its process.
    """
    with open(store.root / LOCK_NAME, "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def free_slots(store: RunStore) -> int:
    """Runs that may start now without going over the cap (active runs anywhere in the store count)."""
    return max(0, max_concurrent_runs() - len(store.active_runs()))
