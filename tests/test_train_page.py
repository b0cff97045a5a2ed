"""AppTest for the Train page: renders, validates input, and Start creates a real run."""
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.store.run_store import RunStore

PAGE = str(Path(__file__).resolve().parents[1] / "dashboard/app_pages/train.py")


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    return at.run()


def wait_for_finish(store: RunStore, run_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.get(run_id)
        if not run.active:
            return run.status
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {store.get(run_id).status} after {timeout} s")


def test_empty_store_renders_and_invites_a_first_run(runs_dir):
    at = open_page()
    assert not at.exception
    assert any("No runs yet" in info.value for info in at.info)


def test_start_creates_a_run_that_trains_to_completion(runs_dir):
    at = open_page()
    at.button(key="train_start").click().run()
    assert not at.exception
    runs = RunStore(runs_dir).list_runs()
    assert len(runs) == 1, "Start must create exactly one run in the store"
    assert runs[0].config["model"] == "mlp" and runs[0].config["hidden"] == [50]
    assert wait_for_finish(RunStore(runs_dir), runs[0].id) == "completed"
    at.run()
    assert not at.exception
    assert any("completed" in s.value for s in at.success)


def test_bad_hyperparameter_shows_message_and_creates_no_run(runs_dir):
    at = open_page()
    at.text_input(key="train_hidden").input("50,abc").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any("hidden must be whole numbers" in e.value for e in at.error)
    assert RunStore(runs_dir).list_runs() == []


def test_cnn_preset_button_fills_the_form(runs_dir):
    at = open_page()
    at.button(key="train_preset_cnn").click().run()
    assert at.selectbox(key="train_model").value == "cnn"
    assert at.checkbox(key="train_augment").value is True


def test_bf16_chosen_in_more_settings_reaches_the_worker(runs_dir):
    at = open_page()
    at.selectbox(key="train_precision").select("bf16").run()
    at.number_input(key="train_epochs").set_value(1).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    [run] = RunStore(runs_dir).list_runs()
    assert run.config["precision"] == "bf16" and run.config["compile"] is False
    assert wait_for_finish(RunStore(runs_dir), run.id) == "completed"
