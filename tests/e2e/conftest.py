"""Real-browser fixtures: `streamlit run` on a free loopback port, driven by Playwright + Debian chromium.

One server per test module (each with its own empty run store), torn down afterwards;
a failing test leaves a screenshot in tests/e2e/artifacts/.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = os.environ.get("DIGITLAB_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, runs_dir: Path, data_dir: Path, log: Path):
        self.port, self.runs_dir, self.data_dir, self.log = free_port(), runs_dir, data_dir, log
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Server":
        env = {**os.environ, "DIGITLAB_RUNS_DIR": str(self.runs_dir), "DIGITLAB_DATA_DIR": str(self.data_dir)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return self
            except OSError:
                time.sleep(0.3)
            if self.process.poll() is not None:
                break
        raise RuntimeError(f"streamlit did not become healthy; log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); "
                    ".ci/run does this")
    base = tmp_path_factory.mktemp("e2e")
    srv = Server(base / "runs", base / "data", base / "server.log").start()
    yield srv
    srv.stop()
    stop_workers(base / "runs")


def stop_workers(runs_dir: Path) -> None:
    """Workers outlive the server on purpose; a test module must not leave any behind."""
    from core.runs import RunStore

    if not runs_dir.exists():
        return
    store = RunStore(runs_dir)
    for run in store.active_runs():
        store.request_stop(run.id)
        try:
            os.kill(run.pid, 15)
        except (OSError, TypeError):
            pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1400}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        shutil.copy(server.log, ARTIFACTS / f"{request.node.name}.server.log")
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def open_app(page, server, path: str = "") -> None:
    """Open a page of the app and wait until Streamlit has finished its first script run."""
    page.goto(f"{server.url}/{path}")
    page.wait_for_selector('[data-testid="stApp"]')
    wait_idle(page)


def wait_idle(page, timeout_s: float = 30) -> None:
    """Wait until the script run indicator is gone (the app is not running a script)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_s * 1000)
