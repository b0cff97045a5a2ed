"""In a real browser: open "Inside the network" on the Train page and watch it follow a run as it trains."""
import re

from playwright.sync_api import expect

from core.store.run_store import RunStore
from tests.e2e.conftest import exceptions_on_screen, open_app, plotly_traces
from tests.e2e.helpers import expect_watching, set_number, start_and_get_run, stop_watched_run
from tests.helpers_waiting import wait_until

VIEW = ".st-key-train_inside_open"
RECORDED = re.compile(r"up to epoch (\d+)")
EPOCHS = 1000  # the form's most: long enough on any machine to be stopped mid-run, below


def recorded_epoch(page) -> int:
    """The last epoch the open view says it shows ("… up to epoch 12: …"), 0 before it shows one."""
    found = RECORDED.search(page.locator(VIEW).inner_text())
    return int(found.group(1)) if found else 0


def gradient_chart_epochs(page) -> int:
    """Epochs on the view's gradient chart: points of its first layer's line, read from the plotly DOM."""
    traces = plotly_traces(page, "train_inside_grad")
    return len(traces[0]["x"]) if traces and traces[0]["x"] else 0


def test_inside_view_appears_and_follows_a_run_while_it_trains(page, server):
    store = RunStore(server.runs_dir)
    open_app(page, server)
    set_number(page, "Epochs", EPOCHS)
    run = start_and_get_run(page, store, len(store.list_runs()))
    expect_watching(page, run.id)

    page.locator(VIEW).get_by_text("Inside the network").click()
    first = wait_until(lambda: recorded_epoch(page), 90, "the Inside view's first recorded epoch", every_s=0.25)
    expect(page.locator(VIEW).get_by_text("Gradient size by epoch")).to_be_visible()
    later = wait_until(lambda: (lambda epoch: epoch if epoch > first else 0)(recorded_epoch(page)), 60,
                       "the Inside view to show a later epoch", every_s=0.25)
    assert later < EPOCHS, "the view moved on while the run was still training, not only at its end"
    wait_until(lambda: gradient_chart_epochs(page) >= later, 30, "the gradient chart to hold the new epochs")

    stop_watched_run(page, store, run.id)
    assert exceptions_on_screen(page) == []
