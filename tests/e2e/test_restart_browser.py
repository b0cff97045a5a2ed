"""In a real browser: the Streamlit server restarts while a worker trains.

Workers run in their own session (``start_new_session``), so stopping the server must not stop
training; a new server on the same run store finds the run still running, the open tab reconnects
to it and watches the progress advance live, and Stop still works.
"""
from __future__ import annotations

import torch
from playwright.sync_api import expect

from core.store.run_store import RunStore
from core.store.run_store import _process_alive as alive  # os.kill(pid, 0), but a zombie counts as dead
from tests.e2e.conftest import Server, exceptions_on_screen, open_app, wait_idle
from tests.e2e.helpers import (
    expect_watching,
    set_number,
    start_and_get_run,
    stop_watched_run,
    wait_for,
    wait_step_beyond,
)


def test_a_worker_keeps_training_across_a_server_restart_and_the_new_server_shows_it_live(page, server):
    store = RunStore(server.runs_dir)
    open_app(page, server)
    page.get_by_role("button", name="A small CNN").click()
    wait_idle(page)
    set_number(page, "Epochs", 500)
    run = start_and_get_run(page, store, 0)
    step = wait_step_beyond(page, 0, 120)
    worker = store.get(run.id).pid
    assert worker and alive(worker)

    # Stop the server (SIGTERM, like Ctrl-C or a deploy): the worker goes on, with no server at all.
    server.stop()
    assert server.process.poll() is not None, "the old server is gone"
    expect(page.locator("[data-testid='stApp']")).not_to_have_attribute(
        "data-test-connection-state", "CONNECTED", timeout=30_000)  # the tab noticed
    stored_step = store.get(run.id).progress["step"]
    wait_for(lambda: store.get(run.id).progress["step"] > stored_step, 60, "the worker to train on without a server")
    assert alive(worker) and store.get(run.id).status == "running"

    # A new server on the same port and the same store: the open tab reconnects by itself.
    restarted = Server(server.runs_dir, server.data_dir, server.log)
    restarted.port, restarted.url = server.port, server.url
    try:
        restarted.start()
        expect(page.locator("[data-testid='stApp']")).to_have_attribute(
            "data-test-connection-state", "CONNECTED", timeout=90_000)
        wait_idle(page, 90)
        expect_watching(page, run.id)
        seen = wait_step_beyond(page, max(step, stored_step), 90)  # live: the caption moves on its own
        wait_step_beyond(page, seen, 60)
        assert store.get(run.id).pid == worker, "the same worker, not a restarted run"
        assert store.get(run.id).status == "running"
        expect(page.get_by_role("button", name="Stop")).to_be_visible()

        # A fresh visit to the new server finds the run too.
        fresh = page.context.new_page()
        fresh.set_default_timeout(30_000)
        open_app(fresh, restarted)
        expect_watching(fresh, run.id)
        wait_step_beyond(fresh, wait_step_beyond(fresh, 0, 60), 60)
        assert exceptions_on_screen(fresh) == []
        fresh.close()

        wait_for(lambda: (store.run_dir(run.id) / "last.pt").exists(), 120, "a first checkpoint")
        stop_watched_run(page, store, run.id)
        wait_for(lambda: not alive(worker), 30, "the worker to exit")
        checkpoint = torch.load(store.run_dir(run.id) / "last.pt", weights_only=True)
        assert checkpoint["config"]["model"] == "cnn" and checkpoint["epoch"] >= 1
        assert exceptions_on_screen(page) == []
    finally:
        restarted.stop()
