"""In a real browser: every page of the app opens, with its title and without an exception box.

Every page by its address on an empty store (a first visit, deep links); then the pages that read
the run store through the sidebar, in one session, with a finished run in the store (so Train,
Inspect and Runs draw more than "no runs yet").
"""
import re

from playwright.sync_api import expect

from core.config import TrainConfig
from core.runner.execute import execute
from core.store.run_store import RunStore
from tests.e2e.conftest import exceptions_on_screen, open_app, wait_idle

# URL path (the page file's stem; "" is the default page) -> (sidebar label, the page's st.title)
PAGES = {
    "": ("Train", "Train a digit classifier"),
    "inspect": ("Inspect", "Inspect a model"),
    "runs": ("Runs", "Runs"),
    "sweeps": ("Sweeps", "Sweeps"),
    "ladder": ("Speed-up ladder", "Speed-up ladder"),
    "data": ("Data", "Datasets: what the model learns from"),
    "learn_tensors": ("Tensors", "🧮 Tensors"),
    "learn_autograd": ("Autograd", "∂ Autograd"),
    "learn_optimizers": ("Optimizers", "⛰️ Optimizers"),
    "learn_nn": ("nn.Module", "🧱 nn.Module"),
    "learn_numpy_vs_torch": ("NumPy vs PyTorch", "⚖️ NumPy vs PyTorch"),
    "learn_data_loading": ("Data loading", "📦 Data loading"),
}


def assert_page_shows(page, path: str) -> None:
    title = PAGES[path][1]
    expect(page.locator("h1").first).to_have_text(title, timeout=90_000)
    wait_idle(page, 90)
    assert exceptions_on_screen(page) == [], f"/{path}: an exception box is on screen"
    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    assert errors == [], f"/{path}: st.error on screen: {errors}"


def test_every_page_opens_by_its_address_on_an_empty_store(page, server):
    open_app(page, server)
    paths = {}
    links = page.locator('[data-testid="stSidebarNavLink"]')
    expect(links.first).to_be_visible()
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href")
        paths[href.removeprefix(server.url).strip("/")] = links.nth(i).inner_text().split("\n")[-1].strip()
    assert paths == {path: label for path, (label, _) in PAGES.items()}, \
        "the sidebar lists exactly the pages this test opens"
    for path in PAGES:
        open_app(page, server, path)
        assert_page_shows(page, path)


def test_the_run_pages_open_through_the_sidebar_with_a_run_in_the_store(page, server):
    store = RunStore(server.runs_dir)
    config = TrainConfig(epochs=2, threads=1).validate()
    run_id = store.create_run(config.to_dict(), name="seeded")
    execute(store, run_id, config)

    open_app(page, server)
    # The Learn pages do not read the store (the test above opened them all); Tensors stands in
    # for them here, so navigating to and from that section is covered too.
    for path in ("", "inspect", "runs", "data", "learn_tensors", ""):
        label = PAGES[path][0]
        page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=label).first.click()
        page.wait_for_url(f"{server.url}/{path}", timeout=30_000)
        assert_page_shows(page, path)
        if path == "":  # the run is picked and its curves drawn
            expect(page.get_by_text("Run completed after 2 epochs")).to_be_visible()
            expect(page.locator(".st-key-train_loss_chart .js-plotly-plot")).to_be_visible()
        elif path == "inspect":
            expect(page.locator(".st-key-inspect_matrix .js-plotly-plot")).to_be_visible()
            expect(page.locator('[data-testid="stImage"]').first).to_be_visible()
        elif path == "runs":
            expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
            expect(page.locator(".st-key-runs_selected input")).to_have_value(re.compile("^seeded · mlp 50"))
