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
    def __init__(self, runs_dir: Path, data_dir: Path, log: Path, env: dict[str, str] | None = None):
        self.port, self.runs_dir, self.data_dir, self.log = free_port(), runs_dir, data_dir, log
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(env or {})  # extra environment, e.g. {"DIGITLAB_MAX_RUNS": "1"}
        self.process: subprocess.Popen | None = None

    def start(self) -> "Server":
        env = {**os.environ, "DIGITLAB_RUNS_DIR": str(self.runs_dir), "DIGITLAB_DATA_DIR": str(self.data_dir),
               **self.env}
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


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory):
    """A second server with its own empty store that lets one run train at a time
    (DIGITLAB_MAX_RUNS=1): the cap's message, cheaply."""
    base = tmp_path_factory.mktemp("e2e-capped")
    srv = Server(base / "runs", base / "data", base / "server.log", env={"DIGITLAB_MAX_RUNS": "1"}).start()
    yield srv
    srv.stop()
    stop_workers(base / "runs")


def stop_workers(runs_dir: Path) -> None:
    """Workers outlive the server on purpose; a test module must not leave any behind."""
    from core.store.run_store import RunStore

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
        if "capped_server" in request.fixturenames:
            shutil.copy(request.getfixturevalue("capped_server").log,
                        ARTIFACTS / f"{request.node.name}.capped_server.log")
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def open_app(page, server, path: str = "", timeout_s: float = 90) -> None:
    """Open a page of the app and wait until Streamlit has finished its first script run
    (generous: a cold page that trains a demo takes ~25 s on a loaded 2-vCPU machine)."""
    page.goto(f"{server.url}/{path}")
    page.wait_for_selector('[data-testid="stApp"]')
    wait_idle(page, timeout_s)


def wait_idle(page, timeout_s: float = 30) -> None:
    """Wait until the app is connected and not running a script.

    Streamlit 1.67 shows no stStatusWidget for short runs; the reliable signal is the
    data-test-script-state attribute of stApp ("initial", "running", "notRunning", ...).
    """
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.dataset.testConnectionState === 'CONNECTED'
                && app.dataset.testScriptState === 'notRunning'
                && !document.querySelector('[data-testid="stStatusWidget"]');
        }""", timeout=timeout_s * 1000)


def plotly_traces(page, key: str) -> list[dict]:
    """The traces of the plotly chart with widget/element key ``key``, read from the plotly DOM
    (name, and x/y/text as plain lists); [] while the chart is not drawn."""
    return page.evaluate("""(key) => {
        const chart = document.querySelector(`.st-key-${key} .js-plotly-plot`);
        if (!chart || !chart.data) return [];
        const plain = (v) => v == null ? null : Array.from(v, (item) =>
            (item != null && typeof item === 'object' && typeof item.length === 'number') ? Array.from(item) : item);
        return chart.data.map((t) => ({name: t.name ?? null, type: t.type ?? null,
                                       x: plain(t.x), y: plain(t.y), text: plain(t.text)}));
    }""", key)


def exceptions_on_screen(page) -> list[str]:
    """The text of every uncaught-exception box Streamlit shows (should be [])."""
    return page.locator('[data-testid="stException"]').all_inner_texts()
