"""What the dashboard costs: a live-view refresh, opening Inspect, Start → first metric, memory, imports."""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
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
OVERLAP_EPOCHS = 40  # the default MLP for this many epochs, when several runs must train at once


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

    ``read``: core.results.live.live_view (store query + cut to a screen's worth of points);
    ``figures``: dashboard.figures' two figures; ``send``: st.plotly_chart's work on them.
    ``refresh`` is read + figures, ``server`` all three.
    """
    from core.results.live import live_view
    from dashboard import figures

    store, run_id = fixtures.live_store(root, points)
    parts: dict[str, list[float]] = {"read": [], "figures": [], "send": []}
    try:
        for repeat in range(repeats + 1):  # the first round is untimed: imports, first-use caches
            t0 = time.perf_counter()
            view = live_view(store, run_id)
            t1 = time.perf_counter()
            drawn = figures.loss_figure(view.steps), figures.accuracy_figure(view.epochs)
            t2 = time.perf_counter()
            for figure in drawn:
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
    """The Inspect page's work for a run with ``n_test`` test predictions per epoch.

    ``summary``: inspect_summary with the dataset already loaded (the page caches it).
    ``first_open``: everything the page computes with empty caches: the run's dataset, the
    summary, matrix and "learned" figures, one gallery page, the model and one digit's close-up.
    """
    from core.results import inspection
    from core.store.run_store import load_run_model
    from dashboard import figures

    epochs = 15  # a CNN preset's run
    store, run_id = fixtures.inspect_store(root, n_test, epochs)
    data = inspection.run_dataset(store, run_id)

    def summary():
        return inspection.inspect_summary(store, run_id, None, data=data)

    def first_open():
        fresh = inspection.run_dataset(store, run_id)
        shown_summary = inspection.inspect_summary(store, run_id, None, data=fresh)
        images = fresh.images[fresh.splits["test"]]
        figures.confusion_figure(shown_summary.matrix)
        figures.learned_figure(shown_summary.epochs, shown_summary.learned_epoch)
        inspection.metrics_rows(shown_summary)
        shown = inspection.gallery_indices(shown_summary)[:40]  # one gallery page
        inspection.upscale(images[shown], 3)
        inspection.captions(shown_summary, shown)
        inspection.digit_detail(load_run_model(store, run_id, "last")[0], images[int(shown[0])])

    return {"n_test": n_test, "epochs": epochs, "summary": timings(summary, repeats),
            "first_open": timings(first_open, min(repeats, 5))}


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


def start_to_first_step_in_browser(root: Path, repeats: int, timeout_s: float = 120.0) -> list[dict]:
    """Seconds from clicking Start on the Train page until the new run's progress shows a step.

    A real browser on a running app (its warm worker given a few seconds to warm up, as it is
    by the time anyone clicks). The store is polled every 10 ms alongside, to split the time
    into: ``launch`` (click → run row), ``start`` (→ worker running: process, imports, data,
    model), ``first_log`` (→ first loss row: the first ``log_every`` steps) and ``page`` (→ on
    screen: the page's poll and redraw). Returns one dict of parts per repeat, plus ``total``.
    """
    runs_dir, data_dir = root / "first-step-runs", root / "first-step-data"
    store = RunStore(runs_dir)
    with StreamlitServer(runs_dir, data_dir, root / "first-step-server.log") as server:
        browser = open_browser_page(server.url)
        if browser is None:
            raise RuntimeError(f"needs Playwright and {CHROMIUM}")
        playwright, chromium, page = browser
        try:
            wait_warm_worker(server.process.pid)
            results = []
            for _ in range(repeats):
                results.append(_time_one_start(page, store, timeout_s))
        finally:
            chromium.close()
            playwright.stop()
    return results


def wait_warm_worker(server_pid: int, timeout_s: float = 120.0) -> int | None:
    """The pid of the server's warm worker once it waits for requests (reading its stdin pipe).

    It imports torch when the app starts; until it is ready runs start cold, which is not
    what these measurements are about. None if the app runs without one.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        warm = [pid for pid in child_pids(server_pid) if b"core.warm_worker" in cmdline(pid)]
        if warm and "pipe_read" in Path(f"/proc/{warm[0]}/wchan").read_text():
            return warm[0]
        time.sleep(0.1)
    return None


def _time_one_start(page, store: RunStore, timeout_s: float) -> dict:
    known = {run.id for run in store.list_runs()}
    page.get_by_role("button", name="Start training").click()
    clicked = time.perf_counter()
    marks: dict[str, float] = {}
    run_id = None
    while "first_log" not in marks:
        if time.perf_counter() - clicked > timeout_s:
            raise TimeoutError(f"no loss row within {timeout_s:.0f} s of Start")
        new = [run for run in store.list_runs() if run.id not in known]
        if new:
            run_id = new[0].id
            marks.setdefault("launch", time.perf_counter())
            if new[0].status != "starting":
                marks.setdefault("start", time.perf_counter())
            if store.metrics(run_id, ("loss",)):
                marks["first_log"] = time.perf_counter()
        time.sleep(0.01)
    # The new run's id in the "Watching" box (an input's value) and a step in its progress caption.
    page.wait_for_function(
        """id => [...document.querySelectorAll('[data-testid="stSelectbox"] input')].some(e => e.value.includes(id))
             && /step [1-9]/.test(document.querySelector('[data-testid="stProgress"]')?.innerText || '')""",
        arg=run_id[-6:], timeout=timeout_s * 1000)
    shown = time.perf_counter()
    store.request_stop(run_id)
    wait_finished(store, run_id, timeout_s)
    marks.setdefault("start", marks["first_log"])
    return {"launch": marks["launch"] - clicked, "start": marks["start"] - marks["launch"],
            "first_log": marks["first_log"] - marks["start"], "page": shown - marks["first_log"],
            "total": shown - clicked}


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


def peak_memory(root: Path, config: TrainConfig, runs: int = 1) -> dict:
    """Peak memory of the Streamlit server, its warm worker and a default run, sampled every 100 ms.

    A Streamlit script runs only while a browser session is connected, so a real browser opens
    the Train page and presses Start, as a user does: the run is forked from the server's warm
    worker, which is counted too. Without a browser the run is launched cold from here. With
    ``runs`` > 1 Start is pressed that many times, so that many default runs train at once.
    """
    runs_dir, data_dir = root / "server-runs", root / "server-data"
    store = RunStore(runs_dir)
    with StreamlitServer(runs_dir, data_dir, root / "server.log") as server:
        urllib.request.urlopen(server.url, timeout=30).read()
        browser = open_browser_page(server.url)
        try:
            run_ids = []
            if browser is None:
                run_ids, viewer, warm = [launch(store, config) for _ in range(runs)], "none", None
            else:
                warm = wait_warm_worker(server.process.pid)
                if runs > 1:  # long enough that the runs overlap: a default run trains for about a second
                    browser[2].get_by_role("spinbutton", name="Epochs").fill(str(OVERLAP_EPOCHS))
                    browser[2].get_by_role("spinbutton", name="Epochs").press("Enter")
                for _ in range(runs):
                    known = {run.id for run in store.list_runs()}
                    browser[2].wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
                    browser[2].get_by_role("button", name="Start training").click()
                    run_ids.append(_new_run(store, known))
                viewer = "watching"
            workers = {("worker" if index == 0 else f"worker{index + 1}"): _pid_of(store, run_id)
                       for index, run_id in enumerate(run_ids)}
            processes = {"server": server.process.pid, "warm": warm, **workers}
            samples = sample_until_finished(store, run_ids, processes)
            run = store.get(run_ids[0])
            server_hwm = memory_kib(server.process.pid).get("VmHWM")
            warm_hwm = memory_kib(processes["warm"]).get("VmHWM", 0) if processes["warm"] else 0
        finally:
            if browser is not None:
                browser[1].close()
                browser[0].stop()
    return {**samples, "server_hwm": server_hwm, "warm_hwm": warm_hwm, "browser": viewer, "status": run.status,
            "runs": runs, "import_torch": import_torch_kib()}


def _new_run(store: RunStore, known: set[str], timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = [run.id for run in store.list_runs() if run.id not in known]
        if new:
            return new[0]
        time.sleep(0.05)
    raise TimeoutError("Start made no run")


def _pid_of(store: RunStore, run_id: str, timeout_s: float = 60.0) -> int:
    """The run's worker pid once the launcher has recorded it (the dashboard's pid until then)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = store.get(run_id)
        if run.pid and run.pid != os.getpid() and run.status != "starting" or run.status in FINISHED:
            return run.pid
        time.sleep(0.02)
    raise TimeoutError(f"run {run_id} never started")


def child_pids(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def sample_until_finished(store: RunStore, run_ids: list[str], processes: dict[str, int | None],
                          timeout_s: float = 600.0) -> dict:
    """Peaks of each process's RSS, of their sums (RSS and PSS), and the first worker's VmHWM before it exited."""
    peak = {f"{name}_rss": 0 for name in processes} | {"sum_rss": 0, "sum_pss": 0, "worker_hwm": 0, "samples": 0}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        memory = {name: memory_kib(pid) if pid else {} for name, pid in processes.items()}
        if memory["worker"]:  # VmHWM only grows, so the last reading before the worker exits is its peak
            peak["worker_hwm"] = max(peak["worker_hwm"], memory["worker"].get("VmHWM", 0))
        for name in processes:
            peak[f"{name}_rss"] = max(peak[f"{name}_rss"], memory[name].get("VmRSS", 0))
        peak["sum_rss"] = max(peak["sum_rss"], sum(m.get("VmRSS", 0) for m in memory.values()))
        peak["sum_pss"] = max(peak["sum_pss"], sum(m.get("Pss", 0) for m in memory.values()))
        peak["samples"] += 1
        workers_gone = not any(memory[name] for name in processes if name.startswith("worker"))
        if workers_gone and all(store.get(run_id).status in FINISHED for run_id in run_ids):
            return peak
        time.sleep(SAMPLE_EVERY_S)
    for run_id in run_ids:
        store.request_stop(run_id)
    raise TimeoutError(f"the default runs {run_ids} did not finish within {timeout_s:.0f} s")


def peak_memory_with(python: str, root: Path, runs: int = 1, timeout_s: float = 900.0) -> dict:
    """``peak_memory`` measured under another interpreter (a venv with the CPU-only torch wheel, say).

    Server and worker both run on that interpreter, since each starts with ``sys.executable``.
    """
    done = subprocess.run([python, "-m", "benchmarks.dashboard_costs", "peak-memory", str(root), str(runs)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
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


if __name__ == "__main__":  # python -m benchmarks.dashboard_costs peak-memory ROOT [RUNS]: one JSON line
    if sys.argv[1:2] != ["peak-memory"] or len(sys.argv) not in (3, 4):
        raise SystemExit("usage: python -m benchmarks.dashboard_costs peak-memory ROOT [RUNS]")
    import torch

    runs = int(sys.argv[3]) if len(sys.argv) == 4 else 1
    print(json.dumps({**peak_memory(Path(sys.argv[2]), TrainConfig().validate(), runs), "torch": torch.__version__}))
