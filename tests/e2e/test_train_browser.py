"""In a real browser: start the guide's MLP, watch it move, stop it."""
import time

from playwright.sync_api import expect

from core.store.run_store import RunStore
from tests.e2e.conftest import open_app, wait_idle


def loss_chart_points(page) -> int:
    """How many points the loss chart's traces hold right now (read from the plotly DOM)."""
    return page.evaluate("""() => {
        const chart = document.querySelector('.st-key-train_loss_chart .js-plotly-plot');
        if (!chart || !chart.data) return 0;
        return chart.data.reduce((n, trace) => n + (trace.x ? trace.x.length : 0), 0);
    }""")


def wait_for_points(page, more_than: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while loss_chart_points(page) <= more_than:
        assert time.monotonic() < deadline, f"the loss chart stayed at {loss_chart_points(page)} points"
        page.wait_for_timeout(250)


def test_start_watch_progress_and_stop(page, server):
    open_app(page, server)
    # 200 epochs: long enough that Stop lands mid-run on a slow machine or a fast one.
    page.get_by_role("spinbutton", name="Epochs").fill("200")
    page.get_by_role("spinbutton", name="Epochs").press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()

    progress = page.locator('[data-testid="stProgress"]')
    expect(progress).to_be_visible()
    wait_for_points(page, more_than=0, timeout_s=90)  # the worker is up and has logged
    first_points, first_caption = loss_chart_points(page), progress.inner_text()
    wait_for_points(page, more_than=first_points, timeout_s=30)  # the loss chart grows while training
    # The caption and the chart change in one rerun, but the chart may finish drawing first.
    expect(progress, "the progress caption (step, ETA) must advance").not_to_have_text(first_caption,
                                                                                       timeout=10_000)
    assert "samples/s" in progress.inner_text() and "ETA" in progress.inner_text()

    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text("Run stopped after")).to_be_visible(timeout=30_000)
    run = RunStore(server.runs_dir).list_runs()[0]
    assert run.status == "stopped" and run.summary["epochs_completed"] < 200


def test_settings_survive_a_visit_to_another_page(page, server):
    open_app(page, server)
    page.get_by_role("spinbutton", name="Epochs").fill("7")
    page.get_by_role("spinbutton", name="Epochs").press("Enter")
    wait_idle(page)
    page.get_by_role("link", name="Data", exact=True).click()
    wait_idle(page)
    page.get_by_role("link", name="Train", exact=True).click()
    wait_idle(page)
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("7")


def test_the_sidebar_counts_a_run_started_elsewhere_within_seconds(page, server):
    from core.config import TrainConfig
    from core.runner.launch import launch

    open_app(page, server)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar).to_contain_text("0/2 training now")
    store = RunStore(server.runs_dir)
    run_id = launch(store, TrainConfig(model="cnn", epochs=100, threads=1).validate())  # as from a shell
    try:
        expect(sidebar).to_contain_text("1/2 training now", timeout=15_000)
    finally:
        store.request_stop(run_id)
    expect(sidebar).to_contain_text("0/2 training now", timeout=30_000)
