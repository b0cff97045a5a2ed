"""What the dashboard costs: a live-view refresh, opening Inspect, Start → first metric, memory, imports."""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from benchmarks import fixtures
from benchmarks.pipelines import wait_finished
from core.config import TrainConfig
from core.runner.launch import REPO_ROOT, launch
from core.store.run_store import FINISHED, RunStore

CHROMIUM = os.environ.get("DIGITLAB_CHROMIUM", "/usr/bin/chromium")
# As tests/e2e uses them: without the networking flags chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                 "--disable-component-update", "--no-first-run"]
SAMPLE_EVERY_S = 0.1  # memory sampling period
POLL_EVERY_S = 0.05  # how often "the page" looks for the first metric
PAGE_TIMEOUT_MS = 60_000


def timings(work: Callable[[], object], repeats: int) -> list[float]:
    """Seconds of ``repeats`` calls, after one untimed call (imports, first-use caches)."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


# -- live view -----------------------------------------------------------------------------------


def plotly_chart_work(figure) -> str:
    """What st.plotly_chart does with a figure on the server (Streamlit 1.67): to a Figure, validated, then JSON."""
    import plotly.io
    import plotly.tools

    return plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(figure, validate_figure=True),
                             validate=False)


def live_refresh(root: Path, points: int, repeats: int) -> dict:
    """Server time of one Train-page refresh, in three parts, each a list of ``repeats`` timings.

    ``read``: core.live.live_view (store query + cut to a screen's worth of points);
    ``figures``: dashboard.charts' two figures; ``send``: st.plotly_chart's work on them.
    ``refresh`` is read + figures, ``server`` all three.
    """
    from core.results.live import live_view
    from dashboard import charts

    store, run_id = fixtures.live_store(root, points)
    parts: dict[str, list[float]] = {"read": [], "figures": [], "send": []}
    try:
        for repeat in range(repeats + 1):  # the first round is untimed: imports, first-use caches
            t0 = time.perf_counter()
            view = live_view(store, run_id)
            t1 = time.perf_counter()
            figures = charts.loss_figure(view.steps), charts.accuracy_figure(view.epochs)
            t2 = time.perf_counter()
            for figure in figures:
                plotly_chart_work(figure)
            t3 = time.perf_counter()
            if repeat:
                for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
                    parts[name].append(seconds)
    finally:
        store.finish(run_id, "completed")  # it was "running" with this process as its worker
    refresh = [read + figures for read, figures in zip(parts["read"], parts["figures"])]
    server = [total + send for total, send in zip(refresh, parts["send"])]
    return {"points": points, "refresh": refresh, "server": server, **parts}


# -- Inspect -------------------------------------------------------------------------------------


def inspect_open(root: Path, n_test: int, repeats: int) -> dict:
    """The Inspect page's core work for a run with ``n_test`` test predictions per epoch.

    ``summary``: inspect_summary with the dataset already loaded (the page caches it).
    ``first_open``: everything the page computes with empty caches: the run's dataset, the
    summary, matrix and "learned" figures, one gallery page, the model and one digit's close-up.
    """
    from core import inspect_view as view

    epochs = 15  # a CNN preset's run
    store, run_id = fixtures.inspect_store(root, n_test, epochs)
    if not hasattr(view, "inspect_summary"):
        return {"missing": ["core.inspect_view.inspect_summary (not written yet)"]}
    optional = ("run_dataset", "confusion_figure", "learned_figure", "gallery_indices", "upscale", "captions",
                "digit_detail", "metrics_rows")
    missing = [f"core.inspect_view.{name}" for name in optional if not hasattr(view, name)]
    data = view.run_dataset(store, run_id) if hasattr(view, "run_dataset") else None

    def summary():
        return view.inspect_summary(store, run_id, None, data=data)

    def first_open():
        from core.store.run_files import model_from_checkpoint
        from core.store.run_store import load_checkpoint

        fresh = view.run_dataset(store, run_id) if hasattr(view, "run_dataset") else None
        s = view.inspect_summary(store, run_id, None, data=fresh)
        images = fresh.images[fresh.splits["test"]] if fresh is not None else None
        for name, args in (("confusion_figure", (s.matrix,)), ("learned_figure", (s,)), ("metrics_rows", (s,))):
            if hasattr(view, name):
                getattr(view, name)(*args)
        if images is not None and {"gallery_indices", "upscale", "captions", "digit_detail"} <= set(dir(view)):
            shown = view.gallery_indices(s)[:40]  # one gallery page
            view.upscale(images[shown], 3)
            view.captions(s, shown)
            net = model_from_checkpoint(load_checkpoint(store, run_id, "last"))[0]
            view.digit_detail(net, images[int(shown[0])])

    return {"n_test": n_test, "epochs": epochs, "summary": timings(summary, repeats),
            "first_open": timings(first_open, min(repeats, 5)), "missing": missing}


# -- Start → first metric ------------------------------------------------------------------------


def start_to_first_metric(store: RunStore, repeats: int, timeout_s: float = 120.0) -> list[float]:
    """Seconds from launching a default run (as Start does) until its first loss row is in the store."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_id = launch(store, TrainConfig().validate())
        while not store.metrics(run_id, ("loss",)):
            if time.perf_counter() - start > timeout_s or store.get(run_id).status in FINISHED:
                raise RuntimeError(f"run {run_id} wrote no loss within {timeout_s:.0f} s: {store.log_tail(run_id)}")
            time.sleep(POLL_EVERY_S)
        times.append(time.perf_counter() - start)
        store.request_stop(run_id)
        wait_finished(store, run_id, timeout_s)
    return times


# -- memory of server + worker -------------------------------------------------------------------


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now), VmHWM (peak so far) and Pss (shared pages divided among their users) in KiB; {} once exited.

    RSS counts the pages of torch's shared libraries in full in every process that maps
    them, so server RSS + worker RSS counts those pages twice; PSS splits them.
    """
    values = {}
    for filename, keys in (("status", ("VmRSS", "VmHWM")), ("smaps_rollup", ("Pss",))):
        try:
            lines = Path(f"/proc/{pid}/{filename}").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, rest = line.partition(":")
            if key in keys:
                values[key] = int(rest.split()[0])
    return values


def import_torch_kib() -> int:
    """VmHWM of a bare ``python -c 'import torch'``: the floor under every Digit Lab process."""
    script = "import re, torch; print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    return int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """``streamlit run dashboard/app.py`` headless on a free loopback port, as tests/e2e starts it."""

    def __init__(self, runs_dir: Path, data_dir: Path, log: Path):
        self.port, self.runs_dir, self.data_dir, self.log = free_port(), runs_dir, data_dir, log
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "StreamlitServer":
        env = {**os.environ, "DIGITLAB_RUNS_DIR": str(self.runs_dir), "DIGITLAB_DATA_DIR": str(self.data_dir)}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(self.port),
                 "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"streamlit did not become healthy; log:\n{self.log.read_text()[-2000:]}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def open_browser_page(url: str):
    """(playwright, browser, page) showing the app after its first script run, or None without chromium/playwright."""
    if not Path(CHROMIUM).exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    show_app(page, url)
    return playwright, browser, page


def show_app(page, url: str) -> None:
    """Load the page and wait until Streamlit's script run has finished (its status widget is gone)."""
    page.goto(url)
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")


def watch_run(page, url: str) -> str:
    """Reload the Train page so it follows the newest run; "watching" once its progress bar shows."""
    show_app(page, url)
    try:
        page.wait_for_selector('[data-testid="stProgress"]', timeout=15_000)
        return "watching"
    except Exception:  # playwright's TimeoutError: the page is up but shows no run
        return "not shown"


def peak_memory(root: Path, config: TrainConfig) -> dict:
    """Peak RSS of the Streamlit server and of a default run's worker, sampled every 100 ms.

    A Streamlit script runs only while a browser session is connected, so a real browser
    watches the Train page (reloaded after the launch, so it follows the new run live).
    """
    runs_dir, data_dir = root / "server-runs", root / "server-data"
    store = RunStore(runs_dir)
    with StreamlitServer(runs_dir, data_dir, root / "server.log") as server:
        urllib.request.urlopen(server.url, timeout=30).read()
        browser = open_browser_page(server.url)
        try:
            run_id = launch(store, config)
            # Sampling starts with the worker, on its own thread, while this one drives the browser.
            samples: dict = {}
            sampler = threading.Thread(target=lambda: samples.update(sample_until_finished(
                RunStore(runs_dir), run_id, server.process.pid, store.get(run_id).pid)))
            sampler.start()
            viewer = "none" if browser is None else watch_run(browser[2], server.url)
            sampler.join()
            if not samples:
                raise RuntimeError(f"memory sampling of run {run_id} failed (see the traceback above)")
            run = store.get(run_id)
            server_hwm = memory_kib(server.process.pid).get("VmHWM")
        finally:
            if browser is not None:
                browser[1].close()
                browser[0].stop()
    return {**samples, "server_hwm": server_hwm, "browser": viewer, "status": run.status,
            "import_torch": import_torch_kib()}


def sample_until_finished(store: RunStore, run_id: str, server_pid: int, worker_pid: int,
                          timeout_s: float = 600.0) -> dict:
    """Peaks of server RSS, worker RSS and their sum; the worker's VmHWM as last read before it exited."""
    peak = {"server_rss": 0, "worker_rss": 0, "sum_rss": 0, "sum_pss": 0, "worker_hwm": 0, "samples": 0}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        server, worker = memory_kib(server_pid), memory_kib(worker_pid)
        if worker:  # VmHWM only grows, so the last reading before the worker exits is its peak
            peak["worker_hwm"] = max(peak["worker_hwm"], worker.get("VmHWM", 0))
        rss_server, rss_worker = server.get("VmRSS", 0), worker.get("VmRSS", 0)
        peak["server_rss"] = max(peak["server_rss"], rss_server)
        peak["worker_rss"] = max(peak["worker_rss"], rss_worker)
        peak["sum_rss"] = max(peak["sum_rss"], rss_server + rss_worker)
        peak["sum_pss"] = max(peak["sum_pss"], server.get("Pss", 0) + worker.get("Pss", 0))
        peak["samples"] += 1
        if store.get(run_id).status in FINISHED and not worker:
            return peak
        time.sleep(SAMPLE_EVERY_S)
    store.request_stop(run_id)
    raise TimeoutError(f"the default run {run_id} did not finish within {timeout_s:.0f} s")


def peak_memory_with(python: str, root: Path, timeout_s: float = 900.0) -> dict:
    """``peak_memory`` measured under another interpreter (a venv with the CPU-only torch wheel, say).

    Server and worker both run on that interpreter, since each starts with ``sys.executable``.
    """
    done = subprocess.run([python, "-m", "benchmarks.dashboard_costs", "peak-memory", str(root)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"{python} could not measure memory:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- import of a guide-format zip ----------------------------------------------------------------


def import_speed(n_images: int) -> dict:
    """Images per second checking and decoding a guide-format zip of embedded digits (10 % unlabelled)."""
    from core.data.embedded import embedded_digits
    from core.data.guide_format import benchmark_import

    images, labels = embedded_digits()
    return benchmark_import(images[:n_images], labels[:n_images], n_test=n_images // 10)


def median(values: list[float]) -> float:
    return statistics.median(values)


if __name__ == "__main__":  # python -m benchmarks.dashboard_costs peak-memory ROOT: one JSON line
    if sys.argv[1:2] != ["peak-memory"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m benchmarks.dashboard_costs peak-memory ROOT")
    import torch

    print(json.dumps({**peak_memory(Path(sys.argv[2]), TrainConfig().validate()), "torch": torch.__version__}))
