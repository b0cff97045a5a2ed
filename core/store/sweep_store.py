"""Sweeps in the run store: a ``sweeps`` table (one row per sweep) and a ``sweep_runs`` queue (one row per
config to train), in the same SQLite database as the runs.

The queue lives here, not in a scheduler's memory, so a sweep outlives any process: an item with no
``run_id`` is still queued; one with a ``run_id`` is an ordinary run of the store, tagged ``sweep:<id>``.
A scheduler claims a sweep by writing its pid; a reader that finds that process gone sees the sweep
``interrupted``, and any scheduler may claim it again to finish it.
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field

from core.store.access import NotAllowed
from core.store.run_store import HEARTBEAT_TIMEOUT_S, RunStore, _process_alive

SWEEP_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'sweep',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    spec TEXT NOT NULL DEFAULT '{}',
    jobs INTEGER NOT NULL,
    host TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    run_id TEXT,
    PRIMARY KEY (sweep_id, position)
);
"""
KINDS = ("sweep", "ladder")  # a ladder is a sweep of fixed rungs, trained one at a time
# queued: made, no scheduler yet; running/stopping: a scheduler works on it
SWEEP_ACTIVE = ("queued", "running", "stopping")
SWEEP_FINISHED = ("completed", "stopped", "interrupted")


def sweep_tag(sweep_id: str) -> str:
    """The tag every run of a sweep carries, so the Runs page can filter them."""
    return f"sweep:{sweep_id}"


@dataclass
class Sweep:
    id: str
    name: str
    kind: str
    created: float
    updated: float
    status: str
    spec: dict  # what was asked for: fields and values, seeds, mode (see core.sweep.plan)
    jobs: int  # runs of this sweep that may train at once (the store-wide cap applies too)
    host: str
    pid: int | None  # the scheduler's process
    stop_requested: bool = False
    error: str = ""

    @property
    def active(self) -> bool:
        return self.status in SWEEP_ACTIVE


@dataclass
class SweepItem:
    sweep_id: str
    position: int
    label: str  # what sets this config apart: "lr=0.003, seed=1", or a ladder rung's name
    config: dict = field(default_factory=dict)
    run_id: str | None = None  # None while queued


class SweepStore:
    """The sweep tables of one run store; every call opens its own short connection, like the store's."""

    def __init__(self, store: RunStore):
        if store.actor is not None:
            # A sweep's scheduler starts runs outside any workspace and past the per-visitor limits.
            raise NotAllowed("Sweeps and the speed-up ladder train many runs at once, so a public deployment does "
                             "not offer them. Run Digit Lab on your own machine (make run) to try them.")
        self.store = store
        with store._db() as db:  # the store's connection settings (WAL, busy timeout) for its own database
            if db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('sweeps', 'sweep_runs')"
                          ).fetchone()[0] == 2:
                return  # a read: pages open a SweepStore every rerun, and need not queue for the write lock
            db.execute("BEGIN IMMEDIATE")  # several processes may open a fresh store at once
            for statement in SWEEP_SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("COMMIT")

    # -- sweeps -------------------------------------------------------------------------------
    def create(self, name: str, kind: str, spec: dict, items: list[tuple[str, dict]], jobs: int) -> str:
        """A new sweep, status ``queued``, with its (label, config) items in order; returns its id."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not items:
            raise ValueError("a sweep needs at least one config to train")
        sweep_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        now = time.time()
        with self.store._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO sweeps (id, name, kind, created, updated, status, spec, jobs, host)"
                       " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                       (sweep_id, name or sweep_id, kind, now, now, json.dumps(spec), int(jobs), self.store.host))
            db.executemany("INSERT INTO sweep_runs (sweep_id, position, label, config) VALUES (?, ?, ?, ?)",
                           [(sweep_id, position, label, json.dumps(config))
                            for position, (label, config) in enumerate(items)])
            db.execute("COMMIT")
        return sweep_id

    def get(self, sweep_id: str) -> Sweep | None:
        sweeps = self._select("WHERE id = ?", (sweep_id,))
        return sweeps[0] if sweeps else None

    def list_sweeps(self, kind: str | None = None) -> list[Sweep]:
        """All sweeps (of one kind if given), newest first."""
        if kind is None:
            return self._select("ORDER BY created DESC", ())
        return self._select("WHERE kind = ? ORDER BY created DESC", (kind,))

    def _select(self, clause: str, args: tuple) -> list[Sweep]:
        with self.store._db() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(f"SELECT * FROM sweeps {clause}", args).fetchall()
        sweeps = []
        for row in rows:
            values = dict(row)
            values["spec"], values["stop_requested"] = json.loads(values["spec"]), bool(values["stop_requested"])
            sweeps.append(self._check_alive(Sweep(**values)))
        return sweeps

    def scheduler_alive(self, sweep: Sweep) -> bool:
        if sweep.pid is None:
            return False
        if sweep.host == self.store.host:
            return _process_alive(sweep.pid)
        return time.time() - sweep.updated <= HEARTBEAT_TIMEOUT_S  # another machine's scheduler: its heartbeat

    def _check_alive(self, sweep: Sweep) -> Sweep:
        """A running sweep whose scheduler died is ``interrupted`` (resumable), as a dead worker's run is."""
        # queued with a pid: a scheduler was started for it and died before it could claim the sweep
        started = sweep.status in ("running", "stopping") or sweep.status == "queued" and sweep.pid is not None
        if not started or self.scheduler_alive(sweep):
            return sweep
        with self.store._db() as db:
            db.execute("UPDATE sweeps SET status = 'interrupted', updated = ? WHERE id = ? AND pid IS ?"
                       " AND status IN ('queued', 'running', 'stopping')", (time.time(), sweep.id, sweep.pid))
        sweep.status = "interrupted"
        return sweep

    def claim(self, sweep_id: str, pid: int | None = None) -> Sweep:
        """Become the sweep's scheduler; ValueError if it does not exist or another live scheduler has it."""
        pid = os.getpid() if pid is None else pid
        with self.store._db() as db:
            db.execute("BEGIN IMMEDIATE")  # read and write under one lock: two claimants cannot both win
            try:
                db.row_factory = sqlite3.Row
                row = db.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
                if row is None:
                    raise ValueError(f"sweep {sweep_id} does not exist in {self.store.root}")
                current = Sweep(**{**dict(row), "spec": {}, "stop_requested": bool(row["stop_requested"])})
                if current.status in ("running", "stopping") and current.pid != pid \
                        and self.scheduler_alive(current):
                    raise ValueError(f"sweep {sweep_id} is already being run by process {current.pid} on "
                                     f"{current.host}; stop that one first")
                status = "stopping" if current.stop_requested else "running"
                db.execute("UPDATE sweeps SET status = ?, pid = ?, host = ?, updated = ?, error = '' WHERE id = ?",
                           (status, pid, self.store.host, time.time(), sweep_id))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return self.get(sweep_id)

    def starting(self, sweep_id: str, pid: int) -> None:
        """The pid of a scheduler process just started for a queued sweep (until it claims the sweep itself)."""
        with self.store._db() as db:
            db.execute("UPDATE sweeps SET pid = ?, host = ?, updated = ? WHERE id = ? AND status = 'queued'",
                       (pid, self.store.host, time.time(), sweep_id))

    def heartbeat(self, sweep_id: str) -> None:
        self._set(sweep_id)

    def finish(self, sweep_id: str, status: str, error: str = "") -> None:
        if status not in SWEEP_FINISHED:
            raise ValueError(f"status must be one of {SWEEP_FINISHED}, got {status!r}")
        self._set(sweep_id, status=status, error=error)

    def request_stop(self, sweep_id: str) -> None:
        """Ask the scheduler to start nothing more and stop the sweep's runs."""
        self._set(sweep_id, stop_requested=1)

    def reopen(self, sweep_id: str) -> None:
        """A stopped or interrupted sweep becomes ``queued`` again, ready for a scheduler to finish it."""
        sweep = self.get(sweep_id)
        if sweep is None:
            raise ValueError(f"sweep {sweep_id} does not exist in {self.store.root}")
        if sweep.status in ("running", "stopping"):
            raise ValueError(f"sweep {sweep_id} is {sweep.status} already (scheduler process {sweep.pid})")
        self._set(sweep_id, status="queued", stop_requested=0, error="", pid=None)

    def _set(self, sweep_id: str, **fields) -> None:
        fields["updated"] = time.time()
        assignments = ", ".join(f"{key} = ?" for key in fields)
        with self.store._db() as db:
            db.execute(f"UPDATE sweeps SET {assignments} WHERE id = ?", (*fields.values(), sweep_id))

    # -- the queue ------------------------------------------------------------------------------
    def items(self, sweep_id: str) -> list[SweepItem]:
        with self.store._db() as db:
            rows = db.execute("SELECT sweep_id, position, label, config, run_id FROM sweep_runs WHERE sweep_id = ?"
                              " ORDER BY position", (sweep_id,)).fetchall()
        return [SweepItem(sweep_id, position, label, json.loads(config), run_id)
                for sweep_id, position, label, config, run_id in rows]

    def assign(self, sweep_id: str, position: int, run_id: str | None) -> None:
        """Record the run that trains an item (None puts the item back in the queue)."""
        with self.store._db() as db:
            db.execute("UPDATE sweep_runs SET run_id = ? WHERE sweep_id = ? AND position = ?",
                       (run_id, sweep_id, position))

    def delete(self, sweep_id: str) -> None:
        """Forget the sweep and its queue; its runs stay in the store (delete them on the Runs page)."""
        with self.store._db() as db:
            db.execute("BEGIN")
            db.execute("DELETE FROM sweep_runs WHERE sweep_id = ?", (sweep_id,))
            db.execute("DELETE FROM sweeps WHERE id = ?", (sweep_id,))
            db.execute("COMMIT")
