"""Public mode, enforced in core: workspaces see and change only their own runs and uploads,
share links are read-only, limits are refused whatever a page allowed, cleanup spares what is in use."""
import os
import shutil
import time
from pathlib import Path

import pytest

from core.config import TrainConfig
from core.runner.execute import execute
from core.runner.launch import launch, launch_replay, launch_resume
from core.store import run_files, workspaces
from core.store.access import Actor, LimitReached, Limits, NotAllowed, parameter_count
from core.store.run_store import RunStore, load_predictions
from tests.helpers_archives import guide_files, zip_bytes

A, B = "a" * 22, "b" * 22
SMALL = TrainConfig(epochs=1, hidden=(8,)).validate().to_dict()
FIXTURE = Path(__file__).resolve().parent / "fixtures/store_v1"


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "runs")


def finished_run(store: RunStore, config: dict = SMALL, status: str = "completed") -> str:
    """A run created by the (possibly bound) store and finished, as a worker would."""
    run_id = store.create_run(config)
    store.acting_as(None).finish(run_id, status)
    return run_id


def trained_run(store: RunStore) -> str:
    """A run created by the (possibly bound) store and trained one epoch here, checkpoint and all."""
    run_id = store.create_run(SMALL)
    execute(store.acting_as(None), run_id, TrainConfig.from_dict(SMALL))
    return run_id


def as_(store: RunStore, workspace: str, **limits) -> RunStore:
    return store.acting_as(Actor(workspace, Limits(**limits)))


# -- who sees what ----------------------------------------------------------------------------------


def test_a_workspace_sees_its_runs_and_the_shell_examples_never_anothers(store):
    mine, theirs = finished_run(as_(store, A)), finished_run(as_(store, B))
    example = finished_run(store)  # from a shell: workspace ""
    assert store.get(mine).workspace == A and store.get(example).workspace == ""
    seen = as_(store, A)
    assert {run.id for run in seen.list_runs()} == {mine, example}
    assert [run.id for run in seen.owned_runs()] == [mine]
    assert seen.get(theirs) is None
    with pytest.raises(NotAllowed, match="not in your workspace"):
        seen.metrics(theirs)
    with pytest.raises(NotAllowed):
        seen.load_tensors(theirs, run_files.LAST)
    with pytest.raises(NotAllowed):
        load_predictions(seen, theirs)
    assert seen.metrics(example) == {}  # examples are readable
    assert {run.id for run in store.list_runs()} == {mine, theirs, example}  # laptop mode: everything


MUTATIONS = {
    "rename": lambda s, run_id: s.rename(run_id, "mine now"),
    "tag": lambda s, run_id: s.set_tags(run_id, ["x"]),
    "delete": lambda s, run_id: s.delete(run_id),
    "stop": lambda s, run_id: s.request_stop(run_id),
    "change": lambda s, run_id: s.update(run_id, name="x"),
    "finish": lambda s, run_id: s.finish(run_id, "stopped"),
    "write to": lambda s, run_id: s.append_metrics(run_id, [("loss", 1, 0.1, 1.0)]),
    "write tensors to": lambda s, run_id: s.save_tensors(run_id, "x.pt", {}),
    "resume": lambda s, run_id: launch_resume(s, run_id, 3),
    "replay": lambda s, run_id: launch_replay(s, run_id),
    "share": lambda s, run_id: workspaces.share(s, run_id),
}


@pytest.mark.parametrize("whose", ["another workspace", "an example", "shared"])
@pytest.mark.parametrize("action", list(MUTATIONS))
def test_every_change_to_a_run_not_owned_is_refused_in_core(store, action, whose):
    owner = {"another workspace": as_(store, B), "an example": store, "shared": as_(store, B)}[whose]
    run_id = trained_run(owner) if action in ("resume", "replay") else finished_run(owner)
    before = store.get(run_id)
    acting = as_(store, A)
    if whose == "shared":
        acting = acting.acting_as(acting.actor.sharing({workspaces.shared_run(store, workspaces.share(owner, run_id))}))
        assert acting.get(run_id) is not None  # readable through the link
    with pytest.raises(NotAllowed) as refused:  # a ValueError: pages show its message
        MUTATIONS[action](acting, run_id)
    message = str(refused.value)
    assert "only the workspace that started it" in message if whose != "another workspace" else \
        "not in your workspace" in message
    after = store.get(run_id)
    assert (after.name, after.tags, after.status) == (before.name, before.tags, before.status)
    assert not store.stop_file(run_id).exists() and len(store.list_runs()) == 1


def test_the_owner_may_do_all_of_it(store):
    mine = as_(store, A, runs_per_workspace=5, max_runs=5)
    run_id = finished_run(mine)
    mine.rename(run_id, "renamed")
    mine.set_tags(run_id, ["kept"])
    mine.request_stop(run_id)
    assert store.get(run_id).name == "renamed" and store.get(run_id).tags == ["kept"]
    assert workspaces.share(mine, run_id) == workspaces.share(mine, run_id)  # one token per run
    assert mine.delete(run_id) and store.get(run_id) is None


def test_a_workspace_id_must_be_long_and_plain():
    for bad in ("", "short", "a" * 15, "../" + "a" * 20, "a" * 65):
        with pytest.raises(NotAllowed, match="workspace id"):
            Actor(bad)
    assert len(workspaces.new_workspace_id()) == 22
    assert workspaces.user_workspace("x:1") == workspaces.user_workspace("x:1") != workspaces.user_workspace("x:2")
    Actor(workspaces.user_workspace("issuer:subject"))


# -- share links ------------------------------------------------------------------------------------


def test_a_share_link_opens_one_run_read_only_and_dies_with_it(store):
    owner = as_(store, A, runs_per_workspace=5, max_runs=5)
    shared, other = finished_run(owner), finished_run(owner)
    token = workspaces.share(owner, shared)
    assert workspaces.shared_run(store, token) == shared
    for bad in ("", "nope", "x" * 30, "'; DROP TABLE runs; --" + "a" * 20):
        assert workspaces.shared_run(store, bad) is None
    viewer = as_(store, B).acting_as(Actor(B, shared=frozenset({shared})))
    assert [run.id for run in viewer.list_runs()] == [shared] and viewer.owned_runs() == []
    assert viewer.get(other) is None
    owner.delete(shared)
    assert workspaces.shared_run(store, token) is None


# -- limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    ({"epochs": 51}, "DIGITLAB_MAX_EPOCHS"),
    ({"batch_size": 2048}, "DIGITLAB_MAX_BATCH_SIZE"),
    ({"hidden": [4096, 4096, 4096, 4096]}, "DIGITLAB_MAX_PARAMETERS"),
    ({"dataset": "/etc/passwd.zip"}, "not available on this server"),
    ({"data_dir": "/"}, "data_dir"),
    ({"dataset": "upload:0123456789ab"}, "not one of your uploads"),
])
def test_a_crafted_config_beyond_the_limits_is_refused_and_nothing_is_written(store, change, message):
    with pytest.raises(ValueError, match=message):
        as_(store, A).create_run({**SMALL, **change})
    assert store.list_runs() == [] and [path for path in store.root.iterdir() if path.is_dir()] == []


def test_parameters_are_counted_without_building_the_weights():
    assert parameter_count(TrainConfig().validate()) == 784 * 50 + 50 + 50 * 10 + 10
    assert parameter_count(TrainConfig(hidden=(4096,) * 4).validate()) == 53_600_266


def test_concurrent_runs_are_capped_per_workspace_and_in_total(store):
    first = as_(store, A).create_run(SMALL)  # starting, held by this live process
    with pytest.raises(LimitReached, match="DIGITLAB_RUNS_PER_WORKSPACE=1"):
        as_(store, A).create_run(SMALL)
    as_(store, B).create_run(SMALL)
    with pytest.raises(LimitReached, match="DIGITLAB_MAX_RUNS=2"):
        as_(store, "c" * 22).create_run(SMALL)
    store.finish(first, "completed")
    as_(store, "c" * 22).create_run(SMALL)


def test_runs_kept_per_workspace_and_resume_epochs_are_limited(store):
    mine = as_(store, A, runs_kept=2, epochs=3)
    run_id = trained_run(mine)
    with pytest.raises(LimitReached, match="DIGITLAB_MAX_EPOCHS"):
        launch_resume(mine, run_id, 4)
    finished_run(mine)
    with pytest.raises(LimitReached, match="DIGITLAB_MAX_RUNS_KEPT=2"):
        mine.create_run(SMALL)


def test_limits_come_from_the_environment_and_a_bad_value_names_its_variable():
    assert Limits.from_env({}) == Limits()
    limits = Limits.from_env({"DIGITLAB_MAX_EPOCHS": "5", "DIGITLAB_IDLE_DAYS": "0.5", "DIGITLAB_MAX_RUNS": "3"})
    assert (limits.epochs, limits.idle_days, limits.max_runs) == (5, 0.5, 3)
    for bad in ("abc", "0", "-1", "nan"):
        with pytest.raises(ValueError, match="DIGITLAB_MAX_UPLOADS must be"):
            Limits.from_env({"DIGITLAB_MAX_UPLOADS": bad})


def test_the_worker_keeps_the_workspace_of_the_run_the_dashboard_created(store):
    mine = as_(store, A)
    run_id = launch(mine, TrainConfig(epochs=1, hidden=(8,), threads=1).validate())
    deadline = time.monotonic() + 120
    while store.get(run_id).active and time.monotonic() < deadline:
        time.sleep(0.2)
    run = store.get(run_id)
    assert run.status == "completed", store.log_tail(run_id)
    assert run.workspace == A and [r.id for r in mine.owned_runs()] == [run_id]


# -- uploads ----------------------------------------------------------------------------------------


def test_uploads_are_claimed_per_workspace_and_the_file_goes_with_the_last_claim(store, tmp_path):
    data_dir = tmp_path / "data"
    archive = zip_bytes(guide_files(20, 4))
    a, b = as_(store, A), as_(store, B)
    name = workspaces.import_upload(a, archive, "digits.zip", data_dir)
    assert [n for n, _ in workspaces.visible_datasets(a, data_dir) if n.startswith("upload:")] == [name]
    assert [n for n, _ in workspaces.visible_datasets(b, data_dir) if n.startswith("upload:")] == []
    assert name in dict(workspaces.visible_datasets(store, data_dir))  # laptop mode lists every upload
    with pytest.raises(NotAllowed, match="not one of your uploads"):
        workspaces.delete_upload(b, name, data_dir)
    with pytest.raises(NotAllowed, match="not one of your uploads"):
        b.create_run({**SMALL, "dataset": name})
    assert workspaces.import_upload(b, archive, "same.zip", data_dir) == name  # same bytes, one cache file
    workspaces.delete_upload(a, name, data_dir)
    assert [n for n, _ in workspaces.visible_datasets(a, data_dir) if n.startswith("upload:")] == []
    assert name in dict(workspaces.visible_datasets(b, data_dir)), "b's claim keeps the file"
    workspaces.delete_upload(b, name, data_dir)
    assert not list((data_dir / "cache").glob("*.pt"))


def test_upload_size_and_count_are_limited(store, tmp_path):
    data_dir = tmp_path / "data"
    small = as_(store, A, uploads=1, upload_mb=1)
    with pytest.raises(LimitReached, match="DIGITLAB_MAX_UPLOAD_MB"):
        workspaces.import_upload(small, b"x" * (1024 * 1024 + 1), "big.zip", data_dir)
    workspaces.import_upload(small, zip_bytes(guide_files(20, 4)), "one.zip", data_dir)
    with pytest.raises(LimitReached, match="DIGITLAB_MAX_UPLOADS=1"):
        workspaces.import_upload(small, zip_bytes(guide_files(21, 4)), "two.zip", data_dir)
    with pytest.raises(ValueError):  # a bad archive leaves no claim behind
        workspaces.import_upload(as_(store, B), b"not a zip", "bad.zip", data_dir)
    assert workspaces.claimed_uploads(as_(store, B)) == set()


# -- cleanup ----------------------------------------------------------------------------------------


def test_cleanup_removes_only_stale_finished_workspaces(store, tmp_path):
    data_dir = tmp_path / "data"
    stale, training, recent = as_(store, A), as_(store, B), as_(store, "c" * 22)
    old_run = finished_run(stale)
    upload = workspaces.import_upload(stale, zip_bytes(guide_files(20, 4)), "d.zip", data_dir)
    busy = training.create_run(SMALL)  # still starting: its worker (this process) is alive
    fresh = finished_run(recent)
    example = finished_run(store)
    later = time.time() + 8 * 86_400  # eight days on: everyone is idle by the clock
    with store.transaction() as db:  # but the recent workspace's run changed within the period
        db.execute("UPDATE runs SET updated = ? WHERE id = ?", (later - 86_400, fresh))

    done = workspaces.cleanup(store, data_dir, idle_days=7, now=later)

    assert done.workspaces == [A] and done.runs == 1 and done.uploads == 1
    assert store.get(old_run) is None and not store.run_dir(old_run).exists()
    assert not list((data_dir / "cache").glob("*.pt")) and upload not in dict(workspaces.visible_datasets(store,
                                                                                                        data_dir))
    assert store.get(busy).active and store.get(fresh) and store.get(example)
    assert workspaces.cleanup(store, data_dir, idle_days=7) == workspaces.Cleanup()  # nothing idle now


def test_a_run_past_the_time_limit_is_asked_to_stop_and_told_why(store):
    overdue, recent = as_(store, A).create_run(SMALL), as_(store, B).create_run(SMALL)
    example = store.create_run(SMALL)  # the operator's own, from a shell
    later = time.time() + 21 * 60
    with store.transaction() as db:
        db.execute("UPDATE runs SET created = ? WHERE id = ?", (later - 60, recent))
    assert workspaces.stop_overdue(store, minutes=20, now=later) == [overdue]
    assert store.stop_file(overdue).exists() and "DIGITLAB_MAX_RUN_MINUTES" in store.get(overdue).summary[
        "stopped_because"]
    assert not store.stop_file(recent).exists() and not store.stop_file(example).exists()


def test_a_store_from_before_workspaces_opens_and_its_runs_are_examples(tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(FIXTURE, root)
    store = RunStore(root)
    [run] = store.list_runs()
    assert run.workspace == ""
    assert [r.id for r in as_(store, A).list_runs()] == [run.id] and as_(store, A).owned_runs() == []
    assert os.path.exists(root / "digitlab.sqlite")


def test_sweeps_are_refused_to_a_visitor_in_core(store):
    from core.store.sweep_store import SweepStore
    from core.sweep.ladder import create_ladder

    with pytest.raises(NotAllowed, match="public deployment does not offer them"):
        SweepStore(as_(store, A))
    with pytest.raises(NotAllowed):
        create_ladder(as_(store, A))
    assert as_(store, A).list_runs() == []
