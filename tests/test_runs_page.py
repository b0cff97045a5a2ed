"""AppTest for the Runs page: the table, filters, rename, tags, delete, comparison, downloads, resume, replay."""
import importlib.util
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import TrainConfig
from core.runner.execute import execute
from core.store.run_store import RunStore

PAGE = str(Path(__file__).resolve().parents[1] / "dashboard/app_pages/runs.py")


def trained_run(store: RunStore, name: str, **fields) -> str:
    config = TrainConfig(**{"epochs": 2, "threads": 1, **fields}).validate()
    run_id = store.create_run(config.to_dict(), name=name)
    execute(store, run_id, config)
    return run_id


@pytest.fixture
def store_with_runs(runs_dir):
    store = RunStore(runs_dir)
    return store, trained_run(store, "slow", lr=1e-3), trained_run(store, "fast", lr=1e-2, batch_size=64)


def open_page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def table_ids(at: AppTest) -> list[str]:
    return list(at.dataframe(key="runs_table").value["id"])


def messages(at: AppTest) -> str:
    return " ".join(m.value for kind in (at.success, at.error, at.warning, at.info) for m in kind)


def diff_table(at: AppTest):
    """The config comparison (a display-only dataframe has no key AppTest can see): the one after the runs table."""
    return [frame for frame in at.dataframe if frame.key != "runs_table"][0].value


def wait_for_finish(store: RunStore, run_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while store.get(run_id).active and time.monotonic() < deadline:
        time.sleep(0.2)
    return store.get(run_id).status


def test_no_runs_shows_how_to_make_one(runs_dir):
    at = open_page()
    assert not at.exception
    assert any("No runs yet" in info.value for info in at.info)


def test_table_lists_every_run_and_filters(store_with_runs):
    store, slow, fast = store_with_runs
    at = open_page()
    assert not at.exception
    assert sorted(table_ids(at)) == sorted([slow, fast])
    assert set(at.dataframe(key="runs_table").value["name"]) == {"slow", "fast"}
    at.text_input(key="runs_filter").input("fast").run()
    assert table_ids(at) == [fast]
    at.text_input(key="runs_filter").input("").run()
    at.multiselect(key="runs_status").select("completed").run()
    assert len(table_ids(at)) == 2


def test_rename_and_tag_through_the_widgets(store_with_runs):
    store, slow, fast = store_with_runs
    at = open_page()
    at.selectbox(key="runs_selected").select(slow).run()
    assert at.text_input(key="runs_rename").value == "slow"
    at.text_input(key="runs_rename").input("baseline MLP")
    at.button(key="runs_rename_button").click().run()
    assert not at.exception and store.get(slow).name == "baseline MLP"
    assert "baseline MLP" in set(at.dataframe(key="runs_table").value["name"])
    at.text_input(key="runs_tags").input("guide, keep")
    at.button(key="runs_tags_button").click().run()
    assert store.get(slow).tags == ["guide", "keep"]
    at.text_input(key="runs_filter").input("keep").run()
    assert table_ids(at) == [slow]


def test_empty_name_is_refused_with_a_message(store_with_runs):
    store, slow, _ = store_with_runs
    at = open_page()
    at.selectbox(key="runs_selected").select(slow).run()
    at.text_input(key="runs_rename").input("   ")
    at.button(key="runs_rename_button").click().run()
    assert not at.exception and "1 to 100 characters" in messages(at) and store.get(slow).name == "slow"


def test_delete_asks_first_then_removes_row_and_files(store_with_runs):
    store, slow, fast = store_with_runs
    at = open_page()
    at.multiselect(key="runs_compare").set_value([slow, fast]).run()
    at.selectbox(key="runs_selected").select(slow).run()
    at.button(key="runs_delete").click().run()
    assert "cannot be undone" in messages(at) and store.get(slow) is not None
    at.button(key="runs_delete_cancel").click().run()
    assert store.get(slow) is not None
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_confirm").click().run()
    assert not at.exception
    assert store.get(slow) is None and not store.run_dir(slow).exists()
    assert table_ids(at) == [fast] and at.multiselect(key="runs_compare").value == [fast]
    assert "Deleted slow" in messages(at)


def test_comparing_two_runs_draws_curves_and_names_the_differences(store_with_runs):
    store, slow, fast = store_with_runs
    at = open_page()
    assert not at.get("plotly_chart")
    at.multiselect(key="runs_compare").set_value([slow, fast]).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2  # loss and validation accuracy, overlaid
    diff = diff_table(at)
    assert list(diff.index[diff["differs"]]) == ["lr", "batch_size"]
    assert any("Settings that differ:** lr, batch_size" in m.value for m in at.markdown)
    at.toggle(key="runs_diff_only").set_value(True).run()
    assert list(diff_table(at).index) == ["lr", "batch_size"]


def test_downloads_are_offered_for_a_trained_run(store_with_runs):
    at = open_page()
    labels = {button.proto.label for button in at.get("download_button")}
    assert {"Metrics (CSV)", "Config (JSON)", "Checkpoint (last.pt)", "TorchScript (.pt)"} <= labels
    assert ("ONNX (.onnx)" in labels) == (importlib.util.find_spec("onnx") is not None)
    assert "Submission CSV" not in labels  # embedded digits have no test.csv to predict


def test_tensorboard_export_says_what_is_missing_or_where_it_wrote(store_with_runs):
    at = open_page()
    at.button(key="runs_tensorboard").click().run()
    assert not at.exception
    if importlib.util.find_spec("tensorboard") is None:
        assert any("pip install tensorboard" in e.value for e in at.error)
    else:
        assert any("tensorboard --logdir" in s.value for s in at.success)


def test_resume_with_too_few_epochs_explains_and_starts_nothing(store_with_runs):
    store, slow, _ = store_with_runs
    at = open_page()
    at.selectbox(key="runs_selected").select(slow).run()
    assert at.number_input(key="runs_resume_epochs").value == 7  # the parent's 2 epochs + 5
    at.number_input(key="runs_resume_epochs").set_value(2)
    at.button(key="runs_resume").click().run()
    assert not at.exception and "epochs must be more than the 2 epochs" in messages(at)
    assert len(store.list_runs()) == 2


def test_resume_and_replay_start_linked_runs_and_the_replay_matches(store_with_runs):
    store, slow, _ = store_with_runs
    at = open_page()
    at.selectbox(key="runs_selected").select(slow).run()
    at.number_input(key="runs_resume_epochs").set_value(3)
    at.button(key="runs_resume").click().run()
    assert not at.exception and "Train page" in messages(at)
    resumed = next(run for run in store.list_runs() if run.origin == "resume")
    assert resumed.id in messages(at) and resumed.parent_id == slow
    at.button(key="runs_replay").click().run()
    replay = next(run for run in store.list_runs() if run.origin == "replay")
    assert wait_for_finish(store, resumed.id) == "completed" and wait_for_finish(store, replay.id) == "completed"
    assert store.get(resumed.id).summary["epochs_completed"] == 3

    at.selectbox(key="runs_selected").select(replay.id).run()
    assert not at.exception
    assert any(f"replay of slow ({slow})" in m.value for m in at.markdown)
    assert any("Replay check: Identical" in s.value for s in at.success)
