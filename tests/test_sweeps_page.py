"""AppTest for the Sweeps and Speed-up ladder pages, and for the Runs page's seed bands and flipped digits."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import TrainConfig
from core.runner.execute import execute
from core.store.run_store import RunStore
from core.store.sweep_store import SweepStore, sweep_tag
from core.sweep.control import create_sweep
from core.sweep.plan import spec_from_text

PAGES = Path(__file__).resolve().parents[1] / "dashboard/app_pages"


def finished_sweep(store: RunStore, fields: dict, seeds: str = "0,1") -> str:
    """A completed sweep whose runs trained in this process (as its scheduler would have had them trained)."""
    sweeps = SweepStore(store)
    sweep_id = create_sweep(store, spec_from_text(fields, seeds, base={"threads": 1, "hidden": "20"}), name="lrs")
    sweeps.claim(sweep_id)
    for item in sweeps.items(sweep_id):
        run_id = store.create_run(item.config, name=item.label)
        store.set_tags(run_id, [sweep_tag(sweep_id)])
        sweeps.assign(sweep_id, item.position, run_id)
        execute(store, run_id, TrainConfig.from_dict(item.config).validate())
    sweeps.finish(sweep_id, "completed")
    return sweep_id


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweeps") / "runs"
    store = RunStore(path)
    return path, store, finished_sweep(store, {"lr": "0.001,0.01", "epochs": "2"})


@pytest.fixture
def with_sweep(sweep_store, monkeypatch):
    path, store, sweep_id = sweep_store
    monkeypatch.setenv("DIGITLAB_RUNS_DIR", str(path))
    return store, sweep_id


def open_page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / name), default_timeout=60).run()


def test_no_sweeps_shows_the_form_open_and_how_to_start(runs_dir):
    at = open_page("sweeps.py")
    assert not at.exception
    assert any("No sweeps yet" in info.value for info in at.info)
    assert at.multiselect(key="sweep_fields").value == ["lr"]
    assert "4 runs (2 configs × 2 seeds), at most" in " ".join(c.value for c in at.caption)


def test_a_bad_value_says_what_is_wrong_and_start_is_disabled(runs_dir):
    at = open_page("sweeps.py")
    at.text_input(key="sweep_values_lr").input("0.001,fast").run()
    assert any("lr: 'fast' is not a number" in warning.value for warning in at.warning)
    assert at.button(key="sweep_start").disabled
    assert SweepStore(RunStore(runs_dir)).list_sweeps() == []


def test_a_finished_sweep_shows_results_best_config_effects_and_bands(with_sweep):
    store, sweep_id = with_sweep
    at = open_page("sweeps.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value  # a display-only dataframe has no key AppTest can see
    assert len(table) == 4 and set(table["status"]) == {"completed"} and set(table["lr"]) == {"0.001", "0.01"}
    text = " ".join(m.value for m in at.markdown)
    assert "**Best:**" in text
    assert any("never on the test set" in c.value for c in at.caption)
    noise = " ".join(m.value for kind in (at.success, at.info) for m in kind)
    assert "seed noise" in noise  # the two configs, compared against the spread between seeds


def test_use_the_best_config_fills_the_train_form(with_sweep):
    store, sweep_id = with_sweep
    at = open_page("sweeps.py")
    at.button(key="sweep_use_best").click().run()
    best = max((run for run in store.list_runs()), key=lambda run: run.summary["val_accuracy"])
    assert at.session_state["train_lr"] == best.config["lr"] and at.session_state["train_hidden"] == "20"
    assert at.session_state["train_seed"] == best.config["seed"] and at.session_state["train_epochs"] == 2
    assert any("Train form now holds the best config" in s.value for s in at.success)


def test_the_runs_page_draws_seeds_as_bands_and_counts_flipped_digits(with_sweep):
    store, _ = with_sweep
    at = AppTest.from_file(str(PAGES / "runs.py"), default_timeout=60).run()
    ids = [run.id for run in store.list_runs()]
    at.multiselect(key="runs_compare").set_value(ids).run()
    assert not at.exception, at.exception
    assert at.toggle(key="runs_seed_bands").value  # two configs, two seeds each: bands by default
    metrics = {m.label: m.value for m in at.metric}
    assert "Right, then wrong" in metrics and "Wrong, then right" in metrics
    at.multiselect(key="runs_compare").set_value(ids[:1]).run()
    assert not at.exception
    assert at.selectbox(key="flips_epoch_a").value == 1 and at.selectbox(key="flips_epoch_b").value == 2


def test_the_ladder_page_explains_itself_before_any_ladder(runs_dir):
    at = open_page("ladder.py")
    assert not at.exception
    assert any("No ladder yet" in info.value for info in at.info)
    assert "97%" in at.markdown[0].value and not at.button(key="ladder_start").disabled
