"""Many processes on one run store at once, as a public deployment has: visitors' workers writing
metrics, pages listing, cleanup deleting, everyone starting runs. Nobody sees "database is locked",
no row is lost, and the limits admit exactly as many runs as they allow, proven with the store's counts."""
import multiprocessing
import time
import traceback

from core.store import workspaces
from core.store.access import Actor, Limits
from core.store.run_store import RunStore

PROCESSES = 6
RUNS_EACH = 15  # runs per process, each with BATCHES x ROWS metric rows
BATCHES, ROWS = 10, 20
CONTEST_ROUNDS = 8  # every process tries to start a run in one workspace at the same moment
ROOMY = Limits(runs_per_workspace=100, max_runs=100, runs_kept=1000)
CONFIG = {"epochs": 1, "hidden": [8]}


def visitor(index: int, root: str, barrier, failures, results) -> None:
    """One visitor's worker and pages at once: start, write, list, finish, delete; then the contest."""
    try:
        store = RunStore(root).acting_as(Actor(f"visitor-{index:02d}-" + "x" * 12, ROOMY))
        kept = []
        for run in range(RUNS_EACH):
            run_id = store.create_run(CONFIG)
            for batch in range(BATCHES):
                store.append_metrics(run_id, [("loss", batch * ROWS + step + 1, 0.0, 1.0) for step in range(ROWS)])
                store.list_runs()  # a page polling while the worker writes
            store.finish(run_id, "completed")
            if run % 3 == 0:
                store.delete(run_id)
            else:
                kept.append(run_id)
        contest = RunStore(root).acting_as(Actor("contest-" + "y" * 14, Limits(runs_per_workspace=1, max_runs=100)))
        won = 0
        for _ in range(CONTEST_ROUNDS):
            barrier.wait()
            try:
                run_id = contest.create_run(CONFIG)
                won += 1
            except ValueError as exc:  # LimitReached: someone else got the one place this round
                assert "DIGITLAB_RUNS_PER_WORKSPACE" in str(exc), str(exc)
                run_id = None
            barrier.wait()  # everyone has tried; the winner frees the place for the next round
            if run_id:
                contest.finish(run_id, "completed")
            barrier.wait()
        results.put((index, kept, won))
    except Exception:  # noqa: BLE001 - reported by the test with its traceback
        failures.put(traceback.format_exc())


def janitor(root: str, stop, failures, cleaned) -> None:
    """Cleanup running over and over while the visitors work, as a busy server's would."""
    try:
        store, total = RunStore(root), 0
        while not stop.is_set():
            total += len(workspaces.cleanup(store, store.root, idle_days=1).workspaces)
            time.sleep(0.01)
        cleaned.put(total)
    except Exception:  # noqa: BLE001 - reported by the test
        failures.put(traceback.format_exc())


def test_many_processes_write_list_and_clean_up_at_once_and_nothing_is_lost(tmp_path):
    root = str(tmp_path / "runs")
    store = RunStore(root)
    stale = []  # workspaces idle for two days, with finished runs: cleanup's work during the load
    for index in range(6):
        owner = store.acting_as(Actor(f"stale-{index}-" + "z" * 14, ROOMY))
        run_id = owner.create_run(CONFIG)
        store.finish(run_id, "completed")
        stale.append(run_id)
    with store.transaction() as db:
        db.execute("UPDATE workspaces SET seen = seen - 2 * 86400")
        db.execute("UPDATE runs SET updated = updated - 2 * 86400")

    context = multiprocessing.get_context("fork")
    barrier, failures, results, cleaned, stop = (context.Barrier(PROCESSES), context.Queue(), context.Queue(),
                                                 context.Queue(), context.Event())
    visitors = [context.Process(target=visitor, args=(i, root, barrier, failures, results)) for i in range(PROCESSES)]
    cleaner = context.Process(target=janitor, args=(root, stop, failures, cleaned))
    started = time.monotonic()
    for process in [cleaner, *visitors]:
        process.start()
    for process in visitors:
        process.join(timeout=240)
    stop.set()
    cleaner.join(timeout=60)
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    assert errors == [], "\n".join(errors)
    assert [p.exitcode for p in [cleaner, *visitors]] == [0] * (PROCESSES + 1)
    assert time.monotonic() - started < 240

    finished = [results.get(timeout=5) for _ in range(PROCESSES)]
    assert sum(won for _, _, won in finished) == CONTEST_ROUNDS, "exactly one run admitted per round"
    assert cleaned.get(timeout=5) == len(stale) and all(store.get(run_id) is None for run_id in stale)
    for index, kept, _ in finished:  # every row written by every process is there, nothing else
        workspace = f"visitor-{index:02d}-" + "x" * 12
        assert sorted(run.id for run in store.list_runs() if run.workspace == workspace) == sorted(kept)
        for run_id in kept:
            assert len(store.metrics(run_id)["loss"]["step"]) == BATCHES * ROWS
    contest = [run for run in store.list_runs() if run.workspace.startswith("contest-")]
    assert len(contest) == CONTEST_ROUNDS and all(run.status == "completed" for run in contest)
