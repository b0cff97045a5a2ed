"""Many processes opening a fresh run store at the same moment, as torchrun's ranks do."""
import multiprocessing
import traceback

from core.store.run_store import RunStore

PROCESSES = 4
FOLDERS = 75  # x 4 processes = 300 simultaneous first opens


def open_each(folders: list[str], barrier, failures) -> None:
    for folder in folders:
        barrier.wait()  # every process opens the same fresh folder at once
        try:
            store = RunStore(folder)
            store.list_runs()
        except Exception:  # noqa: BLE001 - counted and reported by the test
            failures.put(traceback.format_exc(limit=1))


def test_fresh_stores_opened_by_several_processes_at_once_never_fail(tmp_path):
    folders = [str(tmp_path / f"runs-{i}") for i in range(FOLDERS)]
    context = multiprocessing.get_context("fork")  # cheap children that share the imports already made
    barrier, failures = context.Barrier(PROCESSES), context.Queue()
    workers = [context.Process(target=open_each, args=(folders, barrier, failures)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    assert errors == [], f"{len(errors)} of {PROCESSES * FOLDERS} first opens failed, e.g.:\n{errors[0]}"
    for folder in folders:  # and the schema is whole: a run can be recorded in each
        store = RunStore(folder)
        assert store.get(store.create_run({"dataset": "embedded", "model": "mlp"})) is not None
