"""In a real browser, public mode (DIGITLAB_PUBLIC=1): visitors in separate browsers each get a private
workspace; a share link shows one run read-only; five visitors starting at once stay within the limits."""
from __future__ import annotations

import re
import shutil
import threading
import urllib.request

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from core.store.run_store import RunStore
from tests.e2e.conftest import ARTIFACTS, Server, exceptions_on_screen, open_app, wait_idle
from tests.e2e.helpers import expect_watching, set_number, wait_for
from tests.helpers_archives import guide_files, zip_bytes

WORKSPACE = re.compile(r"[?&]ws=([A-Za-z0-9_-]{22})")


@pytest.fixture(scope="module")
def public_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e-public")
    srv = Server(base / "runs", base / "data", base / "server.log", env={"DIGITLAB_PUBLIC": "1"}).start()
    yield srv
    srv.stop()


@pytest.fixture
def visitors(browser, public_server, request):
    """A new browser context per call: a visitor with their own cookies. Screenshots of all on failure."""
    contexts = []

    def visit(path: str = "", cookies: list | None = None):
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        context.add_cookies(cookies or [])
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        open_app(tab, public_server, path)
        return tab

    yield visit
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for index, context in enumerate(contexts):
            for tab in context.pages:
                tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{index}.png"), full_page=True)
        shutil.copy(public_server.log, ARTIFACTS / f"{request.node.name}.server.log")
    for context in contexts:
        context.close()


def workspace_of(page) -> str:
    return WORKSPACE.search(page.url).group(1)


def go(page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    wait_idle(page)


def sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def options_of(page, key: str) -> list[str]:
    """The options a selectbox offers, read by opening it.

    A rerun that lands just after the click redraws the box and closes its list, so the click
    is tried again (three times) once the page is idle.
    """
    for attempt in range(3):
        wait_idle(page)
        page.locator(f".st-key-{key} input").click()
        try:
            page.get_by_role("option").first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    found = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return found


def test_two_visitors_each_see_only_their_own_and_a_share_link_is_read_only(visitors, public_server):
    store = RunStore(public_server.runs_dir)
    alice = visitors()
    set_number(alice, "Epochs", 3)
    alice.get_by_role("button", name="Start training").click()
    run = wait_for(lambda: next(iter(store.list_runs()), None), 60, "Alice's run in the store")
    assert run.workspace == workspace_of(alice)
    expect_watching(alice, run.id)
    expect(alice.get_by_text("Run completed after 3 epochs")).to_be_visible(timeout=90_000)
    go(alice, "Data")
    alice.locator(".st-key-data_upload [data-testid='stFileUploaderDropzoneInput']").set_input_files(
        {"name": "alices-digits.zip", "mimeType": "application/zip", "buffer": zip_bytes(guide_files(20, 4))})
    expect(alice.get_by_text("Imported alices-digits.zip")).to_be_visible(timeout=60_000)

    bob = visitors()
    assert workspace_of(bob) != workspace_of(alice)
    for title in ("Train", "Inspect", "Runs", "Data"):
        if title != "Train":
            go(bob, title)
        body = bob.locator("body").inner_text()
        assert run.id[-6:] not in body and run.name not in body and "alices-digits" not in body, title
        if title != "Data":
            expect(bob.get_by_text("No runs yet")).to_be_visible()
        expect(sidebar(bob)).to_contain_text("Your workspace: 0 runs · 0/1 training now")
    assert not [label for label in options_of(bob, "data_dataset") if "alices-digits" in label]
    assert exceptions_on_screen(bob) == []

    alice.reload()  # the URL keeps her workspace: her run is still there to watch
    wait_idle(alice)
    go(alice, "Train")
    expect_watching(alice, run.id)
    expect(sidebar(alice)).to_contain_text("Your workspace: 1 run ·")
    go(alice, "Runs")
    alice.get_by_role("tab", name="Share").click()
    alice.get_by_role("button", name="Share this run").click()
    wait_idle(alice)
    link = alice.locator("[data-testid='stCode']", has_text="?share=").inner_text().strip()

    bob.goto(link)
    wait_idle(bob, 60)
    expect_watching(bob, run.id)
    expect(bob.get_by_text("Read-only", exact=True)).to_be_visible()
    expect(bob.get_by_role("button", name="Stop")).to_have_count(0)
    expect(sidebar(bob)).to_contain_text("Your workspace: 0 runs")
    bob.get_by_role("button", name="Use these settings on the Train form").click()
    wait_idle(bob)
    expect(bob.get_by_role("spinbutton", name="Epochs", exact=True)).to_have_value("3")
    go(bob, "Runs")
    expect(bob.get_by_role("button", name="Rename")).to_have_count(0)
    expect(bob.get_by_role("button", name="Delete run…")).to_have_count(0)
    assert store.get(run.id).name == run.name and exceptions_on_screen(bob) == []

    again = visitors(cookies=alice.context.cookies())  # her browser, the bare address: the cookie finds her
    assert workspace_of(again) == workspace_of(alice)


def test_five_visitors_start_at_once_and_the_limits_hold(visitors, public_server):
    store = RunStore(public_server.runs_dir)
    known = {run.id for run in store.list_runs()}
    tabs = [visitors() for _ in range(5)]
    for tab in tabs:
        set_number(tab, "Epochs", 2)
    most, watching = [0], threading.Event()

    def watch() -> None:  # the store's own count of runs training, all the while
        while not watching.is_set():
            most[0] = max(most[0], sum(run.active for run in store.list_runs()))
            watching.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        waiting = list(tabs)
        while waiting:
            for tab in waiting:  # every visitor still without a run presses Start at (nearly) the same moment
                tab.get_by_role("button", name="Start training").click()
            for tab in waiting:  # idle, and long enough after the click that its run has begun, if it had one
                tab.wait_for_timeout(1500)
                wait_idle(tab, 60)
            started = {run.workspace for run in store.list_runs() if run.id not in known}
            refused = [tab for tab in waiting if workspace_of(tab) not in started]
            for tab in refused:
                expect(tab.get_by_text("The server is training 2 runs already")).to_be_visible()
            assert len(refused) < len(waiting), "someone must have started"
            waiting = refused
            wait_for(lambda: not any(run.active for run in store.list_runs()), 120, "the admitted runs to end")
    finally:
        watching.set()
        watcher.join()

    assert most[0] <= 2, f"{most[0]} runs trained at once; DIGITLAB_MAX_RUNS allows 2"
    new = [run for run in store.list_runs() if run.id not in known]
    assert sorted(run.workspace for run in new) == sorted(workspace_of(tab) for tab in tabs)
    assert all(run.status == "completed" for run in new), [(run.status, run.error) for run in new]
    for tab in tabs:  # each Runs page offers its visitor's run and nobody else's
        go(tab, "Runs")
        [own] = [run.id[-6:] for run in new if run.workspace == workspace_of(tab)]
        offered = options_of(tab, "runs_selected")
        assert len(offered) == 1 and own in offered[0], offered
        expect(sidebar(tab)).to_contain_text("Your workspace: 1 run ·")
        assert exceptions_on_screen(tab) == []
    assert urllib.request.urlopen(f"{public_server.url}/_stcore/health", timeout=5).read() == b"ok"
