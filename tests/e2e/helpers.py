"""Page helpers shared by the browser tests that drive the Train page and the selectboxes."""
from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from core.store.run_store import RunStore
from tests.e2e.conftest import wait_idle

STEP = re.compile(r"step ([\d,]+)/")


def set_number(page, label: str, value) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page)


def choose(page, key: str, option: str | re.Pattern) -> None:
    """Pick an option of the selectbox with widget key ``key`` (exact text, or a pattern).
    A rerun landing just as the box opens closes it again: then open it once more."""
    name = option if isinstance(option, re.Pattern) else re.compile(f"^{re.escape(option)}$")
    wanted = page.get_by_role("option", name=name).first
    for _ in range(3):
        wait_idle(page)
        page.locator(f".st-key-{key} input").click()
        try:
            wanted.wait_for(state="visible", timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError; the click below raises if it persists
            page.keyboard.press("Escape")
    wanted.click()
    expect(page.locator(f".st-key-{key} input")).to_have_value(name)
    wait_idle(page)


def selected(page, key: str) -> str:
    return page.locator(f".st-key-{key} input").input_value()


def progress_step(page) -> int:
    """The step the Train page's progress caption reports ("epoch 2/200 · step 40/5,800 · …"), or -1."""
    found = STEP.search(page.locator("[data-testid='stProgress']").inner_text())
    return int(found.group(1).replace(",", "")) if found else -1


def wait_step_beyond(page, step: int, timeout_s: float = 60) -> int:
    """Wait until the progress caption on screen reports a step past ``step``; return it."""
    page.wait_for_function(
        """(step) => {
            const bar = document.querySelector('[data-testid="stProgress"]');
            const found = bar && bar.innerText.match(/step ([\\d,]+)\\//);
            return found !== null && Number(found[1].replace(/,/g, '')) > step;
        }""", arg=step, timeout=timeout_s * 1000)
    return progress_step(page)


def wait_for(condition, timeout_s: float = 60, what: str = "condition"):
    """Poll a Python-side condition (the run store, a process) until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def start_and_get_run(page, store: RunStore, known: int):
    """Press Start training; return the run it created (the store's run count goes past ``known``)."""
    page.get_by_role("button", name="Start training").click()
    runs = wait_for(lambda: (lambda found: found if len(found) > known else None)(store.list_runs()), 60,
                    "a new run in the store")
    return runs[0]  # newest first


def expect_watching(page, run_id: str) -> None:
    """The Train page's "Watching" selectbox shows this run (its label carries the id's last 6 characters)."""
    expect(page.locator(".st-key-train_watch input")).to_have_value(re.compile(re.escape(run_id[-6:])),
                                                                    timeout=30_000)


def stop_watched_run(page, store: RunStore, run_id: str) -> None:
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text("Run stopped after")).to_be_visible(timeout=60_000)
    assert store.get(run_id).status == "stopped"
