"""Inside the network on the Train and Inspect pages, and the learning-rate finder, through AppTest."""
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import PRESETS, TrainConfig
from core.runner.execute import execute
from core.store.run_store import RunStore
from dashboard import lr_find_section

ROOT = Path(__file__).resolve().parents[1]
TRAIN, INSPECT = str(ROOT / "dashboard/app_pages/train.py"), str(ROOT / "dashboard/app_pages/inspect.py")
OLD_STORE, OLD_RUN = ROOT / "tests/fixtures/store_v1", "20261201-110012-b95d63"  # made before recording existed
INSIDE_CHARTS = {"grad", "update", "dead", "weights", "grads", "map"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A store with an old run and four finished ones (a few seconds in all): (root, {name: run id})."""
    root = tmp_path_factory.mktemp("inside_runs")
    shutil.copytree(OLD_STORE, root, dirs_exist_ok=True)
    store = RunStore(root)
    configs = {
        "relu": replace(PRESETS["guide-mlp"], epochs=3, threads=1),
        "sigmoid": TrainConfig(hidden=(128,) * 4, activation="sigmoid", optimizer="sgd", lr=0.1, epochs=1, threads=1),
        "cnn": replace(PRESETS["small-cnn"], epochs=1, threads=1),
        "unrecorded": TrainConfig(epochs=1, inside=False, threads=1),
    }
    ids = {"old": OLD_RUN}
    for name, config in configs.items():
        config = config.validate()
        ids[name] = store.create_run(config.to_dict(), name=name)
        execute(store, ids[name], config)
    return root, ids


def open_page(page: str, root: Path, monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("DIGITLAB_RUNS_DIR", str(root))
    at = AppTest.from_file(page, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def chart_titles(at: AppTest, prefix: str) -> dict[str, str]:
    """Key (less ``prefix``) -> title of each plotly chart whose key starts with ``prefix``."""
    titles = {}
    for chart in at.get("plotly_chart"):
        key = chart.proto.id.split("-", 2)[-1]  # "$$ID-<hash>-<key>"
        if key.startswith(prefix):
            titles[key.removeprefix(prefix)] = json.loads(chart.proto.spec)["layout"]["title"]["text"]
    return titles


def warnings_about(at: AppTest, words: str) -> list[str]:
    return [warning.value for warning in at.warning if words in warning.value]


def test_train_page_shows_every_inside_chart_for_a_finished_run_once_opened(runs, monkeypatch):
    root, ids = runs
    at = open_page(TRAIN, root, monkeypatch, train_watch=ids["relu"])
    assert not at.exception
    assert [e.label for e in at.expander if e.label == "Inside the network"], "the view sits in an expander"
    assert chart_titles(at, "train_inside_") == {}, "a closed expander reads and draws nothing"

    at.session_state["train_inside_open"] = True  # what a click on the expander sends
    at.run()
    assert not at.exception and not at.error
    assert set(chart_titles(at, "train_inside_")) == INSIDE_CHARTS
    assert any("up to epoch 3" in caption.value for caption in at.caption)
    assert any("First layer after epoch 3: 50 hidden units" in caption
               for image in at.image for caption in image.captions)
    assert any(caption.value.startswith("Healthy:") for caption in at.caption), "each chart says what healthy is"

    at.select_slider(key="train_inside_snapshot").set_value(1).run()  # an earlier snapshot
    assert not at.exception
    assert chart_titles(at, "train_inside_")["weights"] == "Weights after epoch 1"
    assert chart_titles(at, "train_inside_")["grad"] == "Gradient size by epoch", "the curves keep every epoch"


def test_a_run_without_a_recording_says_why_in_a_message(runs, monkeypatch):
    root, ids = runs
    at = open_page(TRAIN, root, monkeypatch, train_watch=ids["unrecorded"], train_inside_open=True)
    assert not at.exception and not at.error
    assert any("`inside` off" in info.value for info in at.info)
    assert chart_titles(at, "train_inside_") == {}

    at = open_page(INSPECT, root, monkeypatch, inspect_run=ids["old"])  # from an earlier Digit Lab
    assert not at.exception and not at.error
    assert any("this run has none" in info.value for info in at.info)


def test_a_deep_sigmoid_net_is_warned_of_vanishing_gradients_and_the_relu_preset_is_not(runs, monkeypatch):
    root, ids = runs
    sigmoid = open_page(TRAIN, root, monkeypatch, train_watch=ids["sigmoid"], train_inside_open=True)
    assert not sigmoid.exception
    [warning] = warnings_about(sigmoid, "Vanishing gradients")
    assert "smaller than the last layer's" in warning
    assert any("no ReLU follows a layer" in caption.value for caption in sigmoid.caption)
    relu = open_page(TRAIN, root, monkeypatch, train_watch=ids["relu"], train_inside_open=True)
    assert not relu.exception
    assert not [w.value for w in relu.warning if w.value.startswith(("Vanishing", "Exploding", "Dying"))]
    assert any("No warning signs" in caption.value for caption in relu.caption)


def test_learning_rate_finder_puts_its_suggestion_in_the_form(runs_dir, monkeypatch):
    calls, real = [], lr_find_section.lr_find
    monkeypatch.setattr(lr_find_section, "lr_find", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    at = AppTest.from_file(TRAIN, default_timeout=120).run()
    assert at.number_input(key="train_lr").value == 0.001
    at.button(key="train_lr_find").click().run()
    assert not at.exception and not at.error
    assert "train_lr_chart" in chart_titles(at, "")
    suggested = at.session_state["train_lr_found"]["result"].suggested_lr
    [use] = [button for button in at.button if button.key == "train_lr_use"]
    assert use.label == f"Use {float(f'{suggested:.2g}'):g}"
    assert any("a tenth of the learning rate where the smoothed loss was lowest" in c.value for c in at.caption)

    use.click().run()
    assert not at.exception
    assert at.number_input(key="train_lr").value == pytest.approx(suggested, rel=0.05)
    assert f"{at.number_input(key='train_lr').value:g}" in use.label
    at.run()
    assert len(calls) == 1, "reruns redraw the kept result instead of testing again"

    at.text_input(key="train_hidden").input("50,abc").run()
    assert any("press **Find a learning rate** again" in c.value for c in at.caption), "the curve is for old settings"
    at.button(key="train_lr_find").click().run()
    assert not at.exception
    assert any(e.value.startswith("No learning rate found") and "hidden" in e.value for e in at.error)


def test_inspect_shows_cnn_feature_maps_and_the_inside_view_at_the_chosen_epoch(runs, monkeypatch):
    root, ids = runs
    at = open_page(INSPECT, root, monkeypatch, inspect_run=ids["cnn"])
    assert not at.exception and not at.error
    captions = [caption for image in at.image for caption in image.captions]
    assert any(c.startswith("features.0 (Conv2d 1→8 5×5): 8 maps") for c in captions)
    assert any(c.startswith("features.3 (Conv2d 8→16 5×5): 16 maps") for c in captions)
    assert any(c.startswith("First conv layer after epoch 1: 8 filters") for c in captions)
    assert set(chart_titles(at, "inspect_inside_")) == INSIDE_CHARTS

    at = open_page(INSPECT, root, monkeypatch, inspect_run=ids["relu"])
    assert not at.exception and not at.error
    assert any("Feature maps belong to convolutional layers" in info.value for info in at.info)
    assert chart_titles(at, "inspect_inside_")["weights"] == "Weights after epoch 3"
    at.select_slider(key="inspect_epoch").set_value(2).run()
    assert not at.exception
    assert chart_titles(at, "inspect_inside_")["weights"] == "Weights after epoch 2"
    assert any("nearest snapshot at or before epoch 2" in caption.value for caption in at.caption)
