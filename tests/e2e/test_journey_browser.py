"""In a real browser, a learner's whole journey and the live-run edge cases around it.

1. First visit → the guide's MLP on the embedded digits → a second run whose curves grow while we
   watch → Inspect (confusion matrix, misclassified digits, filtering by class) → Runs (compare the
   two, export a checkpoint that loads with ``weights_only=True``).
2. A browser refresh in the middle of training reattaches to the live run.
3. Two tabs (two sessions) train at once, each watching its own run; a third start hits the cap.

The tests share one server (and run store) and run in file order; each stops what it starts.
"""
from __future__ import annotations

import re

import pytest
import torch
from playwright.sync_api import expect

from core.store.run_store import RunStore
from tests.e2e.conftest import exceptions_on_screen, open_app, plotly_traces, wait_idle
from tests.e2e.helpers import (
    choose,
    expect_watching,
    selected,
    set_number,
    start_and_get_run,
    stop_watched_run,
    wait_step_beyond,
)

CAPTION = re.compile(r"^(\d) → (\d) · \d+%$")  # a gallery digit's caption: true → predicted · confidence


# -- page helpers -------------------------------------------------------------------------

def loss_points(page) -> int:
    return sum(len(trace["x"] or []) for trace in plotly_traces(page, "train_loss_chart"))


def gallery_captions(page) -> list[str]:
    """Captions of the Mistakes gallery: the first visible st.image whose captions read
    "true → predicted · confidence" (one element holds a page of digits; the close-up's images
    have other captions, and the "Learned when" expanders are collapsed)."""
    gallery = page.locator("[data-testid='stImage']").filter(visible=True).filter(
        has=page.locator("[data-testid='stImageCaption']", has_text=re.compile(r"^\d → \d · \d+%$"))).first
    expect(gallery.locator("img").first).to_be_visible(timeout=30_000)
    return [text.strip() for text in gallery.locator("[data-testid='stImageCaption']").all_inner_texts()]


def gallery_count(page) -> int:
    caption = page.get_by_text(re.compile(r"^[\d,]+ (misclassified|correct) digits after epoch"))
    return int(caption.inner_text().split()[0].replace(",", ""))


@pytest.fixture
def store(server) -> RunStore:
    yield RunStore(server.runs_dir)
    for run in RunStore(server.runs_dir).active_runs():  # a failed test must not leave a run training
        RunStore(server.runs_dir).request_stop(run.id)


# -- 1. the journey ------------------------------------------------------------------------

def test_first_visit_train_watch_inspect_compare_and_export(page, server, store, tmp_path):
    # First visit: an empty store invites a first run.
    open_app(page, server)
    expect(page.get_by_text("No runs yet")).to_be_visible()

    # The guide's MLP, on the embedded digits, exactly as the preset sets it.
    page.get_by_role("button", name="The guide's MLP").click()
    wait_idle(page)
    expect(page.get_by_role("textbox", name="Hidden layer sizes", exact=True)).to_have_value("50")
    expect(page.get_by_role("spinbutton", name="Epochs", exact=True)).to_have_value("5")
    guide = start_and_get_run(page, store, 0)
    expect(page.get_by_text("Run completed after 5 epochs")).to_be_visible(timeout=120_000)
    guide = store.get(guide.id)
    assert (guide.status, guide.model, guide.dataset) == ("completed", "mlp", "embedded")
    assert guide.config["hidden"] == [50] and guide.config["optimizer"] == "adam" and guide.config["lr"] == 1e-3
    assert loss_points(page) > 0 and guide.id[-6:] in selected(page, "train_watch")

    # A second run, ten times the learning rate and long enough to watch its curves grow.
    set_number(page, "Learning rate", "0.01")
    set_number(page, "Epochs", 300)
    bold = start_and_get_run(page, store, 1)
    page.wait_for_function("() => document.querySelector('.st-key-train_loss_chart .js-plotly-plot')?.data"
                           "?.some(trace => trace.x && trace.x.length > 0)", timeout=90_000)
    expect_watching(page, bold.id)
    first_look = loss_points(page)
    assert store.get(bold.id).active, "the run must still be training for this look to mean anything"
    page.wait_for_function(
        """(n) => (document.querySelector('.st-key-train_loss_chart .js-plotly-plot')?.data || [])
                  .reduce((total, trace) => total + (trace.x ? trace.x.length : 0), 0) > n""",
        arg=first_look, timeout=60_000)
    stop_watched_run(page, store, bold.id)

    # Inspect the guide's run: confusion matrix, mistakes, filtering by class.
    page.locator("[data-testid='stSidebarNavLink']").filter(has_text="Inspect").first.click()
    expect(page.locator("h1")).to_have_text("Inspect a model", timeout=60_000)
    choose(page, "inspect_run", re.compile(re.escape(guide.id[-6:])))
    page.wait_for_function("() => document.querySelector('.st-key-inspect_matrix .js-plotly-plot')?.data?.length",
                           timeout=60_000)
    heatmap = next(trace for trace in plotly_traces(page, "inspect_matrix") if trace["type"] == "heatmap")
    matrix = [[int(cell or 0) for cell in row] for row in heatmap["text"]]
    assert len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    total = sum(map(sum, matrix))
    mistakes = total - sum(matrix[i][i] for i in range(10))
    expect(page.get_by_text(f"Mistakes (of {total:,} test digits)")).to_be_visible()
    assert gallery_count(page) == mistakes > 0
    captions = gallery_captions(page)
    assert captions and all(CAPTION.match(text) for text in captions), captions
    assert all(a != b for a, b in (CAPTION.match(text).groups() for text in captions)), "only mistakes"
    assert len({CAPTION.match(text).group(1) for text in captions}) > 1, "unfiltered: several true classes"

    # The most common confusion, as a filter: the gallery shows exactly that cell's digits.
    true_class, predicted = max(((t, p) for t in range(10) for p in range(10) if t != p),
                                key=lambda cell: matrix[cell[0]][cell[1]])
    choose(page, "inspect_true", str(true_class))
    expect(page.get_by_text(re.compile(rf"^{sum(matrix[true_class]) - matrix[true_class][true_class]:,} "
                                       "misclassified digits"))).to_be_visible(timeout=30_000)
    assert all(text.startswith(f"{true_class} → ") for text in gallery_captions(page))
    choose(page, "inspect_pred", str(predicted))
    expect(page.get_by_text(re.compile(rf"^{matrix[true_class][predicted]:,} misclassified digits")))\
        .to_be_visible(timeout=30_000)
    filtered = gallery_captions(page)
    assert len(filtered) == min(matrix[true_class][predicted], 40)
    assert all(text.startswith(f"{true_class} → {predicted} · ") for text in filtered), filtered
    assert exceptions_on_screen(page) == []

    # Runs: compare the two runs' curves and settings.
    page.locator("[data-testid='stSidebarNavLink']").filter(has_text="Runs").first.click()
    expect(page.locator("h1")).to_have_text("Runs", timeout=60_000)
    wait_idle(page)
    picker = page.locator(".st-key-runs_compare")
    for run in (guide, bold):
        picker.locator("input").click()
        page.get_by_role("option", name=re.compile(re.escape(run.id[-6:]))).first.click()
        wait_idle(page)
        page.keyboard.press("Escape")
        wait_idle(page)
    page.wait_for_function("() => document.querySelector('.st-key-runs_compare_loss .js-plotly-plot')"
                           "?.data?.length >= 2", timeout=30_000)
    names = [trace["name"] for trace in plotly_traces(page, "runs_compare_loss")]
    assert len(names) == 2 and len(set(names)) == 2 and all("lr=" in name for name in names), names
    differ = page.locator("[data-testid='stMarkdownContainer'] p").filter(has_text="Settings that differ:")
    expect(differ).to_contain_text("lr")
    expect(differ).to_contain_text("epochs")

    # Export the guide's checkpoint and load it like a user would, safely.
    choose(page, "runs_selected", re.compile(re.escape(guide.id[-6:])))
    # The run's own form is drawn (so the rerun that picked it is over: a download button clicked
    # during a rerun points at a file the rerun has already dropped).
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value(guide.name)
    wait_idle(page)
    page.get_by_role("tab", name="Download").click()
    # Switching tabs reruns the page in Streamlit 1.67, and every rerun replaces the ids of the
    # deferred (callable) downloads: a click before the new ids reach the browser downloads nothing
    # (server log: "Deferred file … not found"). Let that rerun finish first.
    wait_idle(page)
    button = page.get_by_role("button", name="Checkpoint (last.pt)")
    expect(button).to_be_enabled()
    with page.expect_download(timeout=60_000) as download:
        button.click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.endswith("-last.pt")
    checkpoint = torch.load(path, weights_only=True)
    assert {"model", "config"} <= set(checkpoint)
    assert checkpoint["config"]["lr"] == 1e-3 and checkpoint["config"]["hidden"] == [50]
    assert checkpoint["epoch"] == 5
    stored = torch.load(store.run_dir(guide.id) / "last.pt", weights_only=True)["model"]
    assert list(checkpoint["model"]) == list(stored)
    assert all(torch.equal(checkpoint["model"][name], stored[name]) for name in stored), "the run's own weights"
    assert exceptions_on_screen(page) == []


# -- 2. a refresh reattaches -----------------------------------------------------------------

def test_a_refresh_in_the_middle_of_training_reattaches_to_the_live_run(page, server, store):
    open_app(page, server)
    page.get_by_role("button", name="A small CNN").click()
    wait_idle(page)
    set_number(page, "Epochs", 500)
    before = len(store.list_runs())
    run = start_and_get_run(page, store, before)
    assert run.model == "cnn"
    step = wait_step_beyond(page, 0, 120)
    expect_watching(page, run.id)

    page.reload()
    page.wait_for_selector("[data-testid='stApp']")
    wait_idle(page, 90)
    # A new session: the page picks the run that is training and keeps following it.
    expect_watching(page, run.id)
    after_reload = wait_step_beyond(page, step, 60)
    wait_step_beyond(page, after_reload, 60)  # and it keeps advancing without any click
    assert store.get(run.id).active
    assert exceptions_on_screen(page) == []
    stop_watched_run(page, store, run.id)


# -- 3. two tabs, and the cap ------------------------------------------------------------------

def test_two_tabs_train_at_once_each_watching_its_own_run_and_a_third_hits_the_cap(page, browser, server, store):
    other = browser.new_context(viewport={"width": 1400, "height": 1400})  # a second session
    try:
        tabs = [page, other.new_page()]
        tabs[1].set_default_timeout(30_000)
        for tab in tabs:
            open_app(tab, server)
            # 1,000 epochs of a 784-512-512-10 MLP take minutes, so both runs are still training when
            # stopped at the end (two of the guide's MLP can finish 1,000 epochs in under a minute).
            hidden = tab.get_by_role("textbox", name="Hidden layer sizes", exact=True)
            hidden.fill("512,512")
            hidden.press("Enter")
            set_number(tab, "Epochs", 1000)
        assert store.active_runs() == []

        started = []
        for tab in tabs:
            started.append(start_and_get_run(tab, store, len(store.list_runs())))
            wait_step_beyond(tab, 0, 120)
        for tab, run in zip(tabs, started):  # tab 1's start did not move tab 0 off its own run
            expect_watching(tab, run.id)
        assert started[0].id != started[1].id
        assert {r.id for r in store.active_runs()} == {r.id for r in started}

        # The cap (DIGITLAB_MAX_RUNS, 2 by default): a third start is refused with the reason.
        total = len(store.list_runs())
        tabs[0].get_by_role("button", name="Start training").click()
        expect(tabs[0].get_by_text("2 runs are training already, the most this app allows at once"))\
            .to_be_visible(timeout=30_000)
        assert len(store.list_runs()) == total, "no run was created past the cap"
        expect_watching(tabs[0], started[0].id)
        expect(tabs[0].locator("[data-testid='stSidebar']")).to_contain_text("2/2 training now")

        for tab, run in zip(tabs, started):
            stop_watched_run(tab, store, run.id)
        assert store.active_runs() == []
        assert all(exceptions_on_screen(tab) == [] for tab in tabs)
    finally:
        other.close()


def test_the_cap_comes_from_DIGITLAB_MAX_RUNS(page, capped_server):
    store = RunStore(capped_server.runs_dir)
    try:
        open_app(page, capped_server)
        expect(page.locator("[data-testid='stSidebar']")).to_contain_text("0/1 training now")
        set_number(page, "Epochs", 1000)
        run = start_and_get_run(page, store, 0)
        wait_step_beyond(page, 0, 120)
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("1 run is training already, the most this app allows at once")).to_be_visible(
            timeout=30_000)
        expect(page.get_by_text("(set DIGITLAB_MAX_RUNS to change it)")).to_be_visible()
        assert [r.id for r in store.list_runs()] == [run.id], "the second start created nothing"
        expect_watching(page, run.id)
        stop_watched_run(page, store, run.id)
    finally:
        for active in store.active_runs():
            store.request_stop(active.id)
