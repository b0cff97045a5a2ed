"""The run store: one SQLite database (WAL) plus one folder per run.

Writers (a training worker, from the dashboard or a shell) and readers (dashboard pages
polling once a second) meet only here. Each call opens its own short-lived connection (a
worker's :class:`MetricsAppender` keeps one open in the thread that writes), so the store is
safe to use from Streamlit's script threads and from several processes, including several
opening a fresh store at the same moment. What a run folder holds is
defined in :mod:`core.store.run_files`.

Every run belongs to a workspace (``""`` for runs started from a shell or on a laptop). A store
bound to a visitor with :meth:`RunStore.acting_as` sees and changes only what that visitor may
(:mod:`core.store.access`); an unbound store, as workers and laptops use, may do everything.
"""
from __future__ import annotations

import copy
import json
import os
import random
import secrets
import shutil
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from torch import nn

from core.config import TrainConfig
from core.store import run_files
from core.store.access import VARIABLES, Actor, LimitReached, NotAllowed, check_config

ACTIVE = ("starting", "running")
FINISHED = ("completed", "stopped", "diverged", "failed", "interrupted")
STATUSES = ACTIVE + FINISHED
# A run on another host whose worker has not written for this long is taken as dead.
HEARTBEAT_TIMEOUT_S = 120.0
DB_NAME = "digitlab.sqlite"
INIT_TIMEOUT_S = 30.0  # how long a first open keeps retrying while other processes set the store up

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    dataset TEXT NOT NULL,
    model TEXT NOT NULL,
    device TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    pid INTEGER,
    parent_id TEXT,
    origin TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    progress TEXT NOT NULL DEFAULT '{}',
    summary TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT '',
    workspace TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    epoch REAL NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics (run_id, name, step);
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS shares (
    token TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS upload_claims (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (workspace, name)
);
"""


# Columns added after the first release, with their definitions, for stores made before.
ADDED_COLUMNS = {"origin": "TEXT NOT NULL DEFAULT ''", "workspace": "TEXT NOT NULL DEFAULT ''"}


def default_runs_dir() -> Path:
    return Path(os.environ.get("DIGITLAB_RUNS_DIR", "runs"))


@dataclass
class Run:
    """One row of the runs table, JSON columns decoded."""

    id: str
    name: str
    created: float
    updated: float
    status: str
    config: dict
    dataset: str
    model: str
    device: str
    host: str
    pid: int | None
    parent_id: str | None
    origin: str = ""  # "" for a fresh run, "resume" or "replay" of parent_id
    tags: list[str] = field(default_factory=list)
    progress: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    error: str = ""
    workspace: str = ""  # "" for a run started from a shell or on a laptop: no visitor's

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child that nobody reaped yet is a zombie: dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class RunStore:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_runs_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.host = socket.gethostname()
        self.actor: Actor | None = None  # None: laptop mode, a worker or a shell; sees and may do everything
        self._initialize()

    def acting_as(self, actor: Actor | None) -> "RunStore":
        """The same store seen by one visitor's workspace (``None``: unbound again); opens nothing."""
        bound = copy.copy(self)
        bound.actor = actor
        return bound

    # -- who may see and change what ------------------------------------------------
    def can_view(self, run: Run) -> bool:
        """Own runs, shell runs (read-only examples) and runs opened through a share link."""
        actor = self.actor
        return actor is None or run.workspace in (actor.workspace, "") or run.id in actor.shared

    def owns(self, run: Run) -> bool:
        return self.actor is None or run.workspace == self.actor.workspace

    def check_owner(self, run_id: str, action: str) -> Run:
        """The run, if the acting workspace may ``action`` it; NotAllowed (a ValueError) says why not."""
        run = self._unbound_get(run_id)
        if run is None and self.actor is None:
            raise ValueError(f"Run {run_id} does not exist (deleted?).")
        if run is None or not self.can_view(run):
            raise NotAllowed(f"Run {run_id} is not in your workspace, so you cannot {action} it.")
        if not self.owns(run):
            why = "an example started on the server" if run.workspace == "" else "shared with you"
            raise NotAllowed(f"Run {run.name} is read-only here ({why}): only the workspace that started it "
                             f"can {action} it. Copy its settings to the Train form to train your own.")
        return run

    def check_visible(self, run_id: str) -> None:
        """NotAllowed unless the acting workspace may read the run (nothing to check in laptop mode)."""
        if self.actor is not None:
            run = self._unbound_get(run_id)
            if run is None or not self.can_view(run):
                raise NotAllowed(f"Run {run_id} is not in your workspace (deleted, or never shared with you).")

    def _unbound_get(self, run_id: str) -> Run | None:
        runs = self.acting_as(None)._select("WHERE id = ?", (run_id,))
        return runs[0] if runs else None

    def owned_runs(self) -> list[Run]:
        """The runs of the acting workspace, newest first (every run in laptop mode)."""
        return [run for run in self.list_runs() if self.actor is None or run.workspace == self.actor.workspace]

    def _initialize(self) -> None:
        """WAL mode, schema and migrations, safe when many processes open a fresh store at once.

        Switching to WAL needs the database to itself, and SQLite answers "database is locked"
        at once (no busy wait) to the processes that race for it, as torchrun's ranks or the
        dashboard and a shell run do on a new folder. So the switch is retried, and the schema is
        created in one IMMEDIATE transaction, which takes the write lock before reading
        anything: a second process waits for it, then finds the tables there.
        """
        deadline = time.monotonic() + INIT_TIMEOUT_S
        while True:
            try:
                with self._db() as db:
                    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        db.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
                    db.execute("BEGIN IMMEDIATE")
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
                    for column, definition in ADDED_COLUMNS.items():
                        if column not in columns:  # a store made by an older Digit Lab
                            db.execute(f"ALTER TABLE runs ADD COLUMN {column} {definition}")
                    db.execute("COMMIT")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))  # jitter, so racers do not collide again

    def connect(self):
        """A short-lived connection in autocommit mode (a context manager), for the store's companion modules."""
        return self._db()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that takes the write lock before reading (BEGIN IMMEDIATE), so a
        check and the write it allows cannot interleave with another process's; rolled back on error."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")

    def _connect(self) -> sqlite3.Connection:
        # timeout: wait for a writer instead of raising "database is locked" at a reader.
        db = sqlite3.connect(self.root / DB_NAME, timeout=30.0, isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")  # per connection; safe with WAL, no fsync per commit
        return db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    # -- runs -----------------------------------------------------------------------
    def create_run(self, config: dict, name: str = "", parent_id: str | None = None,
                   status: str = "starting", origin: str = "") -> str:
        """Record a new run in the acting workspace; a bound store first checks the config and the
        limits (LimitReached, NotAllowed), in one transaction with the insert so racing visitors
        cannot both take the last place."""
        if self.actor is not None:
            check_config(TrainConfig.from_dict(config).validate(), self.actor.limits)
            if parent_id is not None:
                self.check_owner(parent_id, origin or "build on")
            self.acting_as(None).active_runs()  # a worker that died unseen must not hold a place
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        now = time.time()
        workspace = self.actor.workspace if self.actor is not None else ""
        self.run_dir(run_id).mkdir(parents=True)
        run_files.write_config(self.run_dir(run_id), config)
        try:
            with self.transaction() as db:
                if self.actor is not None:
                    self._admit(db, str(config.get("dataset", "")))
                db.execute(
                    "INSERT INTO runs (id, name, created, updated, status, config, dataset, model, host, pid,"
                    " parent_id, origin, workspace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, name or run_id, now, now, status, json.dumps(config), str(config.get("dataset", "")),
                     str(config.get("model", "")), self.host, os.getpid(), parent_id, origin, workspace),
                )
                if workspace:
                    db.execute("INSERT INTO workspaces (id, created, seen) VALUES (?, ?, ?)"
                               " ON CONFLICT (id) DO UPDATE SET seen = excluded.seen", (workspace, now, now))
        except BaseException:
            shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
            raise
        return run_id

    def admission(self, config: dict, server_wide: bool = True) -> None:
        """Raise what ``create_run`` would refuse for this config right now, writing nothing (a page
        disables Start with it). ``server_wide=False`` leaves out the places all workspaces share."""
        if self.actor is not None:
            check_config(TrainConfig.from_dict(config).validate(), self.actor.limits)
            with self._db() as db:
                self._admit(db, str(config.get("dataset", "")), server_wide)

    def _admit(self, db: sqlite3.Connection, dataset: str, server_wide: bool = True) -> None:
        """Inside the insert's transaction: the places left, the runs kept, the dataset's owner."""
        limits, workspace = self.actor.limits, self.actor.workspace
        active = "status IN ('starting', 'running')"
        training = db.execute(f"SELECT COUNT(*) FROM runs WHERE {active}").fetchone()[0]
        if server_wide and training >= limits.max_runs:
            raise LimitReached(f"The server is training {training} runs already, the most it allows at once "
                               f"({VARIABLES['max_runs']}={limits.max_runs}). Wait a minute, then start again.")
        mine = db.execute(f"SELECT COUNT(*) FROM runs WHERE workspace = ? AND {active}", (workspace,)).fetchone()[0]
        if mine >= limits.runs_per_workspace:
            runs = "1 run" if mine == 1 else f"{mine} runs"
            raise LimitReached(f"Your workspace is training {runs} already, the most one workspace may train at once "
                               f"here ({VARIABLES['runs_per_workspace']}={limits.runs_per_workspace}). Stop it or "
                               "wait for it to finish.")
        kept = db.execute("SELECT COUNT(*) FROM runs WHERE workspace = ?", (workspace,)).fetchone()[0]
        if kept >= limits.runs_kept:
            raise LimitReached(f"Your workspace keeps {kept} runs, the most it may keep here "
                               f"({VARIABLES['runs_kept']}={limits.runs_kept}). Delete some on the Runs page first.")
        claimed = "SELECT 1 FROM upload_claims WHERE workspace = ? AND name = ?"
        if dataset.startswith("upload:") and db.execute(claimed, (workspace, dataset)).fetchone() is None:
            raise NotAllowed(f"Dataset {dataset} is not one of your uploads. Upload the zip on the Data page, "
                             "or pick another dataset.")

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def get(self, run_id: str) -> Run | None:
        """The run, or None if there is none the acting workspace may see."""
        runs = self._select("WHERE id = ?", (run_id,))
        return runs[0] if runs else None

    def list_runs(self) -> list[Run]:
        """All runs the acting workspace may see (every run in laptop mode), newest first."""
        return self._select("ORDER BY created DESC", ())

    def active_runs(self) -> list[Run]:
        return [run for run in self.list_runs() if run.active]

    def _select(self, clause: str, args: tuple) -> list[Run]:
        source = "runs"
        if self.actor is not None:  # SQLite leaves out other workspaces' rows: they are never even decoded
            shared = sorted(self.actor.shared)
            source = f"(SELECT * FROM runs WHERE workspace IN (?, '') OR id IN ({', '.join('?' * len(shared))}))"
            args = (self.actor.workspace, *shared, *args)
        with self._db() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(f"SELECT * FROM {source} {clause}", args).fetchall()
        runs = [run for run in map(self._decode, rows) if self.can_view(run)]
        return [self._check_alive(run) for run in runs]

    @staticmethod
    def _decode(row: sqlite3.Row) -> Run:
        values = dict(row)
        for key in ("config", "tags", "progress", "summary"):
            values[key] = json.loads(values[key])
        return Run(**values)

    def _check_alive(self, run: Run) -> Run:
        """Mark a run whose worker died without saying so as ``interrupted``."""
        if not run.active:
            return run
        if run.host == self.host and run.pid is not None:
            dead = not _process_alive(run.pid)
        else:
            dead = time.time() - run.updated > HEARTBEAT_TIMEOUT_S
        if not dead:
            return run
        reason = "The training process ended without reporting (killed, crashed or the machine restarted)."
        log_tail = self.log_tail(run.id)
        if log_tail:
            reason += " Last lines of its log:\n" + log_tail
        self.acting_as(None).finish(run.id, "interrupted", error=reason, only_if_active=True)
        return self.get(run.id) or run

    def log_tail(self, run_id: str, lines: int = 8) -> str:
        return run_files.log_tail(self.run_dir(run_id), lines)

    def update(self, run_id: str, **fields) -> None:
        """Set columns of a run; dict/list values are stored as JSON."""
        if not fields:
            return
        if self.actor is not None:
            self.check_owner(run_id, "change")
        encoded = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in fields.items()}
        encoded["updated"] = time.time()
        assignments = ", ".join(f"{key} = ?" for key in encoded)
        with self._db() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*encoded.values(), run_id))

    def finish(self, run_id: str, status: str, error: str = "", summary: dict | None = None,
               only_if_active: bool = False) -> None:
        if status not in FINISHED:
            raise ValueError(f"status must be one of {FINISHED}, got {status!r}")
        if self.actor is not None:
            self.check_owner(run_id, "finish")
        fields = {"status": status, "error": error, "updated": time.time()}
        if summary is not None:
            fields["summary"] = json.dumps(summary)
        assignments = ", ".join(f"{key} = ?" for key in fields)
        guard = " AND status IN ('starting', 'running')" if only_if_active else ""
        with self._db() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id = ?{guard}", (*fields.values(), run_id))

    def rename(self, run_id: str, name: str) -> None:
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("a run name must be 1 to 100 characters")
        if self.actor is not None:
            self.check_owner(run_id, "rename")
        self.update(run_id, name=name)

    def set_tags(self, run_id: str, tags: list[str]) -> None:
        cleaned = sorted({tag.strip() for tag in tags if tag.strip()})
        if any(len(tag) > 40 for tag in cleaned):
            raise ValueError("a tag must be at most 40 characters")
        if self.actor is not None:
            self.check_owner(run_id, "tag")
        self.update(run_id, tags=cleaned)

    def delete(self, run_id: str, only_finished: bool = False) -> bool:
        """Remove a run's row, metrics, share links and folder; ``only_finished`` leaves a training run
        alone (checked in the same transaction). True if it was deleted."""
        if self.actor is not None:
            self.check_owner(run_id, "delete")
        guard = " AND status NOT IN ('starting', 'running')" if only_finished else ""
        with self.transaction() as db:
            if db.execute(f"DELETE FROM runs WHERE id = ?{guard}", (run_id,)).rowcount == 0 and only_finished:
                return False
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM shares WHERE run_id = ?", (run_id,))
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        return True

    # -- stop requests ----------------------------------------------------------------
    def request_stop(self, run_id: str) -> None:
        """Ask the worker to stop after its current batch (it checks for this file)."""
        if self.actor is not None:
            self.check_owner(run_id, "stop")
        self.stop_file(run_id).touch()

    def stop_file(self, run_id: str) -> Path:
        return self.run_dir(run_id) / run_files.STOP

    # -- metrics ----------------------------------------------------------------------
    def append_metrics(self, run_id: str, rows: list[tuple[str, int, float, float]],
                       progress: dict | None = None) -> None:
        """Append (name, step, epoch, value) rows, and set the run's progress, in one transaction.

        One connection and one commit per flush: a worker flushes at every epoch's end, where
        on the embedded digits an MLP epoch trains in ~25 ms and each commit costs ~1 ms.
        """
        if not rows and progress is None:
            return
        if self.actor is not None:
            self.check_owner(run_id, "write to")
        with self._db() as db:
            _append_metrics(db, run_id, rows, progress)

    def metrics_appender(self, run_id: str) -> MetricsAppender:
        """``append_metrics`` for one run over a connection kept open: for a worker's many flushes."""
        if self.actor is not None:
            self.check_owner(run_id, "write to")
        return MetricsAppender(self, run_id)

    def metrics(self, run_id: str, names: tuple[str, ...] | None = None,
                max_points: int | None = None) -> dict[str, dict[str, list]]:
        """{name: {"step": [...], "epoch": [...], "value": [...]}} in step order.

        With ``max_points``, a longer series comes back as at most that many bucket means
        (computed by SQLite, so a 10,000-point curve costs a live refresh a few ms) plus
        its exact last point, so the curve ends where training is.
        """
        self.check_visible(run_id)
        query = "SELECT name, COUNT(*), MAX(step) FROM metrics WHERE run_id = ?"
        args: list = [run_id]
        if names:
            query += f" AND name IN ({', '.join('?' * len(names))})"
            args += list(names)
        series: dict[str, dict[str, list]] = {}
        with self._db() as db:
            for name, count, last_step in db.execute(query + " GROUP BY name ORDER BY name", args).fetchall():
                # at most max_points - 1 buckets, plus the exact last point below
                width = 1 if not max_points or count <= max_points else -(-last_step // max(1, max_points - 1))
                rows = db.execute(
                    "SELECT AVG(step), AVG(epoch), AVG(value) FROM metrics WHERE run_id = ? AND name = ?"
                    " GROUP BY (step - 1) / ? ORDER BY MIN(step)", (run_id, name, width)).fetchall()
                if width > 1:
                    rows.append(db.execute("SELECT step, epoch, value FROM metrics WHERE run_id = ? AND name = ?"
                                           " ORDER BY step DESC LIMIT 1", (run_id, name)).fetchone())
                steps, epochs, values = (list(column) for column in zip(*rows))
                series[name] = {"step": [int(s) if width == 1 else s for s in steps], "epoch": epochs,
                                "value": values}
        return series

    # -- files ------------------------------------------------------------------------
    def save_tensors(self, run_id: str, filename: str, payload: dict) -> None:
        if self.actor is not None:
            self.check_owner(run_id, "write to")
        run_files.save_tensors(self.run_dir(run_id) / filename, payload)

    def load_tensors(self, run_id: str, filename: str) -> dict | None:
        """Load a checkpoint or predictions file; ``weights_only`` refuses pickled code."""
        self.check_visible(run_id)
        return run_files.load_tensors(self.run_dir(run_id) / filename)


def _append_metrics(db: sqlite3.Connection, run_id: str, rows: list[tuple[str, int, float, float]],
                    progress: dict | None) -> None:
    db.execute("BEGIN")
    try:
        db.executemany("INSERT INTO metrics (run_id, name, step, epoch, value) VALUES (?, ?, ?, ?, ?)",
                       [(run_id, *row) for row in rows])
        if progress is not None:
            db.execute("UPDATE runs SET progress = ?, updated = ? WHERE id = ?",
                       (json.dumps(progress), time.time(), run_id))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")  # a connection kept open must not stay inside a failed transaction
        raise


class MetricsAppender:
    """Metric rows and progress for one run, each call one transaction on a connection kept open.

    Opening a connection costs 0.2-1.5 ms, a commit ~0.05 ms, and closing the database's last
    open connection 1-3 ms (SQLite then folds its write-ahead log into the database file). SQLite
    connections belong to the thread that opened them, so the connection opens at ``open`` or the
    first call, in the caller's thread; call it and ``close`` from that thread only.
    """

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self.db: sqlite3.Connection | None = None

    def __call__(self, rows: list[tuple[str, int, float, float]], progress: dict | None = None) -> None:
        if not rows and progress is None:
            return
        _append_metrics(self.open(), self.run_id, rows, progress)

    def open(self) -> sqlite3.Connection:
        if self.db is None:
            self.db = self.store._connect()
        return self.db

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def existing_run_dir(store: RunStore, run_id: str) -> Path:
    if store.get(run_id) is None:
        store.check_visible(run_id)  # in public mode: NotAllowed, whether it exists elsewhere or not at all
        raise ValueError(f"Run {run_id} does not exist (deleted?). Pick another run.")
    return store.run_dir(run_id)


def load_checkpoint(store: RunStore, run_id: str, which: str = "last") -> dict:
    """The checkpoint dict of a run; ValueError with a message for every way that can fail."""
    return run_files.read_checkpoint(existing_run_dir(store, run_id), which)


def load_run_model(store: RunStore, run_id: str, which: str = "last") -> tuple[nn.Module, TrainConfig]:
    return run_files.model_from_checkpoint(load_checkpoint(store, run_id, which))


def load_predictions(store: RunStore, run_id: str) -> dict:
    """A run's per-epoch test predictions: epochs (E,), predicted (E, n), confidence (E, n)."""
    return run_files.read_predictions(existing_run_dir(store, run_id))
