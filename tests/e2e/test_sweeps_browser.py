"""In a real browser: start a 2×2 sweep of 1-epoch runs, watch it progress under the cap, open its parallel
coordinates; and the Runs page shows its seeds as bands."""
import re

import pytest
from playwright.sync_api import expect

from core.store.run_store import RunStore
from core.store.sweep_store import SweepStore, sweep_tag
from core.sweep.control import stop_sweep
from tests.e2e.conftest import exceptions_on_screen, open_app, plotly_traces, wait_idle

PROGRESS = '[data-testid="stProgress"]'


@pytest.fixture
def sweeps(server):
    """The server's sweep tables; any sweep still going at the end is stopped (schedulers outlive servers)."""
    store = RunStore(server.runs_dir)
    yield SweepStore(store)
    for sweep in SweepStore(store).list_sweeps():
        if sweep.active:
            stop_sweep(store, sweep.id)


def type_into(page, key: str, text: str) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(text)
    box.press("Enter")
    wait_idle(page)


def progress_text(page) -> str:
    return page.locator(PROGRESS).inner_text()


def test_a_two_by_two_sweep_progresses_under_the_cap_and_draws_parallel_coordinates(page, server, sweeps):
    open_app(page, server, "sweeps")
    expect(page.get_by_text("No sweeps yet")).to_be_visible()
    page.locator(".st-key-sweep_fields input").click()
    page.get_by_role("option", name="epochs", exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    type_into(page, "sweep_values_lr", "0.001,0.01")
    type_into(page, "sweep_values_epochs", "1")
    expect(page.get_by_text("4 runs (2 configs × 2 seeds), at most 2 training at once.")).to_be_visible()
    page.get_by_role("button", name="Start sweep").click()

    expect(page.get_by_text(re.compile("Sweep .* queued"))).to_be_visible(timeout=30_000)
    page.wait_for_function(f"""() => /[1-2] training/.test(document.querySelector('{PROGRESS}')?.innerText ?? '')""",
                           timeout=90_000)  # runs training, the rest queued: the cap of 2 holds
    during = progress_text(page)
    assert re.search(r"[0-3]/4 runs finished", during), during
    page.wait_for_function(f"""() => /4\\/4 runs finished/.test(
        document.querySelector('{PROGRESS}')?.innerText ?? '')""", timeout=180_000)
    expect(page.locator(PROGRESS)).to_contain_text("completed", timeout=30_000)

    sweep = sweeps.list_sweeps()[0]
    assert sweep.status == "completed"
    runs = [run for run in RunStore(server.runs_dir).list_runs() if sweep_tag(sweep.id) in run.tags]
    assert len(runs) == 4 and all(run.status == "completed" for run in runs)

    wait_idle(page)  # the page reruns once when the sweep ends; its tabs are drawn anew
    expect(page.get_by_role("tab", name="Parallel coordinates")).to_have_count(1)
    page.get_by_role("tab", name="Parallel coordinates").click()
    page.wait_for_function("() => document.querySelector('.st-key-sweep_parallel .js-plotly-plot')?.data?.length",
                           timeout=30_000)
    traces = plotly_traces(page, "sweep_parallel")
    assert [trace["type"] for trace in traces] == ["parcoords"]
    axes = page.evaluate("""() => document.querySelector('.st-key-sweep_parallel .js-plotly-plot')
        .data[0].dimensions.map((d) => d.label)""")
    assert axes == ["lr (log)", "val accuracy"]
    page.get_by_role("tab", name="Results").click()
    expect(page.get_by_text("never on the test set")).to_be_visible()
    assert exceptions_on_screen(page) == []
