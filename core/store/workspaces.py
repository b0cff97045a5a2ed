"""Workspaces of a public deployment: ids, share links, which workspace claimed which upload, cleanup.

Three tables of the run store's database: ``workspaces`` (id, created, last seen), ``shares``
(token -> run) and ``upload_claims`` (workspace, upload name). The upload cache is content-addressed
(:mod:`core.data.uploads`): two visitors who upload the same zip share one cache file and each hold a
claim on it; deleting an upload removes the visitor's claim, and the file only with the last claim.
A workspace gets its row when it first trains or uploads, so a visitor who only looks leaves nothing.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.data import uploads
from core.data.catalog import list_datasets
from core.data.safe_zip import MB, ArchiveLimits, DatasetError, format_bytes
from core.store.access import VARIABLES, Actor, LimitReached, NotAllowed, valid_workspace
from core.store.run_store import RunStore

SHARE_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
DAY_S = 86_400.0


def new_workspace_id() -> str:
    """A fresh visitor's workspace: 128 random bits, 22 URL-safe characters."""
    while not token_opens(workspace := secrets.token_urlsafe(16)):  # a 1 in 64**5 chance
        pass
    return workspace


USER_PREFIX = "user-"


def user_workspace(subject: str) -> str:
    """The workspace of a signed-in user (their provider's stable subject or e-mail), the same on every device.

    It can be computed by anyone who knows the subject, so it must be reached only by signing in:
    see :func:`token_opens`."""
    return USER_PREFIX + hashlib.sha256(subject.encode()).hexdigest()[:32]


def token_opens(token: str) -> bool:
    """Whether a ``?ws=`` token or cookie may open a workspace: a well-formed id, never a signed-in user's."""
    return valid_workspace(token) and not token.startswith(USER_PREFIX)


def actor_of(store: RunStore) -> Actor:
    if store.actor is None:
        raise ValueError("This needs a visitor's workspace: it exists only in public mode (DIGITLAB_PUBLIC=1).")
    return store.actor


def touch(store: RunStore, workspace: str, now: float | None = None) -> None:
    """Record a visit, so cleanup keeps the workspace (a workspace with no row has nothing to keep)."""
    with store.connect() as db:
        db.execute("UPDATE workspaces SET seen = ? WHERE id = ?", (time.time() if now is None else now, workspace))


def _remember(db: sqlite3.Connection, workspace: str) -> None:
    now = time.time()
    db.execute("INSERT INTO workspaces (id, created, seen) VALUES (?, ?, ?)"
               " ON CONFLICT (id) DO UPDATE SET seen = excluded.seen", (workspace, now, now))


# -- share links ----------------------------------------------------------------------------


def share(store: RunStore, run_id: str) -> str:
    """A read-only share token for a run of the acting workspace (the same token every time)."""
    store.check_owner(run_id, "share")
    with store.transaction() as db:
        row = db.execute("SELECT token FROM shares WHERE run_id = ?", (run_id,)).fetchone()
        if row:
            return row[0]
        token = secrets.token_urlsafe(16)
        db.execute("INSERT INTO shares (token, run_id, created) VALUES (?, ?, ?)", (token, run_id, time.time()))
    return token


def shared_run(store: RunStore, token: str) -> str | None:
    """The run a share token opens, or None for a token that is malformed, unknown or of a deleted run."""
    if not isinstance(token, str) or not SHARE_TOKEN.fullmatch(token):
        return None
    with store.connect() as db:
        row = db.execute("SELECT shares.run_id FROM shares JOIN runs ON runs.id = shares.run_id"
                         " WHERE shares.token = ?", (token,)).fetchone()
    return row[0] if row else None


# -- uploads --------------------------------------------------------------------------------


def claimed_uploads(store: RunStore) -> set[str]:
    with store.connect() as db:
        return {row[0] for row in db.execute("SELECT name FROM upload_claims WHERE workspace = ?",
                                             (actor_of(store).workspace,))}


def visible_datasets(store: RunStore, data_dir: Path, include_absent: bool = False) -> list[tuple[str, str]]:
    """``catalog.list_datasets`` without the uploads of other workspaces (all of them in laptop mode)."""
    found = list_datasets(data_dir, include_absent)
    if store.actor is None:
        return found
    mine = claimed_uploads(store)
    return [(name, label) for name, label in found if not name.startswith(uploads.UPLOAD_PREFIX) or name in mine]


def import_upload(store: RunStore, data: bytes, filename: str, data_dir: Path, progress=None) -> str:
    """``uploads.import_archive`` within the workspace's limits; the upload is then the workspace's."""
    actor = actor_of(store)
    limits = actor.limits
    if len(data) > limits.upload_mb * MB:
        raise LimitReached(f"{filename} is {format_bytes(len(data))}, more than the {limits.upload_mb} MB an upload "
                           f"may be on this server ({VARIABLES['upload_mb']}). Upload fewer digits.")
    name = uploads.upload_name(hashlib.sha256(data).hexdigest())
    with store.transaction() as db:  # the count and the claim together: two uploads at once cannot both pass
        claimed = {row[0] for row in db.execute("SELECT name FROM upload_claims WHERE workspace = ?",
                                                (actor.workspace,))}
        new = name not in claimed
        if new and len(claimed) >= limits.uploads:
            raise LimitReached(f"Your workspace has {len(claimed)} uploads, the most it may keep on this server "
                               f"({VARIABLES['uploads']}={limits.uploads}). Delete one on the Data page first.")
        if new:  # before the cache is written, so a deletion by another workspace cannot remove it under us
            db.execute("INSERT INTO upload_claims (workspace, name, created) VALUES (?, ?, ?)",
                       (actor.workspace, name, time.time()))
        _remember(db, actor.workspace)
    try:
        return uploads.import_archive(data, filename, data_dir, progress,
                                      limits=ArchiveLimits(max_archive_bytes=limits.upload_mb * MB))
    except BaseException:
        if new:
            with store.transaction() as db:
                db.execute("DELETE FROM upload_claims WHERE workspace = ? AND name = ?", (actor.workspace, name))
        raise


def _release(db: sqlite3.Connection, workspace: str, name: str, data_dir: Path) -> bool:
    """Inside a write transaction: drop one claim, and the cache file if nobody else claims it."""
    if db.execute("DELETE FROM upload_claims WHERE workspace = ? AND name = ?", (workspace, name)).rowcount == 0:
        return False
    others = db.execute("SELECT COUNT(*) FROM upload_claims WHERE name = ?", (name,)).fetchone()[0]
    if others == 0 and uploads.cache_entries(name, data_dir):
        try:
            uploads.delete_upload(name, data_dir)
        except DatasetError:  # deleted a moment ago by hand: nothing left to remove
            pass
    return True


def delete_upload(store: RunStore, name: str, data_dir: Path) -> None:
    """Remove an upload from the acting workspace (the cache file goes with the last claim)."""
    actor = actor_of(store)
    with store.transaction() as db:
        if not _release(db, actor.workspace, name, data_dir):
            raise NotAllowed(f"{name} is not one of your uploads, so you cannot delete it. "
                             "Pick one the Data page lists.")


# -- time and cleanup -----------------------------------------------------------------------


def stop_overdue(store: RunStore, minutes: float, now: float | None = None) -> list[str]:
    """Ask visitors' runs that have trained longer than ``minutes`` to stop after their current batch.

    The run ends ``stopped`` with its weights, like a Stop click, and its summary says why. Runs
    started from a shell (workspace "") are the operator's and are never stopped here."""
    trusted = store.acting_as(None)
    now = time.time() if now is None else now
    overdue = [run for run in trusted.active_runs() if run.workspace and now - run.created > minutes * 60]
    for run in overdue:
        if not trusted.stop_file(run.id).exists():
            trusted.update(run.id, summary={**run.summary, "stopped_because": (
                f"Stopped after {minutes:g} minutes, the longest a run may train on this server "
                f"({VARIABLES['run_minutes']}).")})
            trusted.request_stop(run.id)
    return [run.id for run in overdue]



@dataclass
class Cleanup:
    """What one cleanup removed."""

    workspaces: list[str] = field(default_factory=list)
    runs: int = 0
    uploads: int = 0


def cleanup(store: RunStore, data_dir: Path, idle_days: float, now: float | None = None) -> Cleanup:
    """Remove workspaces unused for ``idle_days``: their runs, run folders, share links and upload claims.

    A workspace with a run still training, or one updated within the period, is kept whole;
    each run is deleted only if it is still finished when its row goes (one transaction), so a
    run started a moment ago is never touched. Shell runs (workspace "") are never removed.
    """
    trusted = store.acting_as(None)
    now = time.time() if now is None else now
    cutoff = now - idle_days * DAY_S
    with trusted.connect() as db:
        stale = [row[0] for row in db.execute("SELECT id FROM workspaces WHERE seen < ?", (cutoff,))]
    done = Cleanup()
    if not stale:
        return done
    runs = trusted.list_runs()  # also marks runs whose worker died as interrupted
    for workspace in stale:
        own = [run for run in runs if run.workspace == workspace]
        if any(run.active or run.updated >= cutoff for run in own):
            continue
        deleted = [trusted.delete(run.id, only_finished=True) for run in own]
        done.runs += sum(deleted)
        if not all(deleted):
            continue
        with trusted.transaction() as db:
            names = [row[0] for row in db.execute("SELECT name FROM upload_claims WHERE workspace = ?",
                                                  (workspace,))]
            done.uploads += sum(_release(db, workspace, name, data_dir) for name in names)
            if db.execute("DELETE FROM workspaces WHERE id = ? AND seen < ?", (workspace, cutoff)).rowcount:
                done.workspaces.append(workspace)
    return done
