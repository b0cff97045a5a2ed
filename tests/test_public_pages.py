"""AppTest in public mode (DIGITLAB_PUBLIC=1): every page shows a visitor only their own workspace,
examples and shared runs are read-only, and the Train form holds to the server's limits."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import TrainConfig
from core.results import inspection
from core.runner.execute import execute
from core.store import workspaces
from core.store.access import Actor, NotAllowed
from core.store.run_store import RunStore
from dashboard import flip_section, inside_sections, inspect_sections
from tests.helpers_archives import guide_files, zip_bytes

ROOT = Path(__file__).resolve().parents[1]
A, B = "a" * 22, "b" * 22
TINY = TrainConfig(epochs=1, hidden=(8,), threads=1).validate()


@pytest.fixture
def public(runs_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITLAB_PUBLIC", "1")
    monkeypatch.setenv("DIGITLAB_DATA_DIR", str(tmp_path / "data"))
    return RunStore(runs_dir)


def open_page(page: str, workspace: str | None = None, share: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / f"dashboard/{page}.py"), default_timeout=60)
    if workspace:
        at.query_params["ws"] = workspace
    if share:
        at.query_params["share"] = share
    return at.run()


def text_of(at: AppTest) -> str:
    """Everything a visitor can read on the page: messages, captions, markdown, choices and table cells."""
    parts = [element.value for kind in (at.info, at.success, at.error, at.warning, at.caption, at.markdown)
             for element in kind]
    parts += [" ".join(map(str, box.options)) for box in at.selectbox]
    parts += [frame.value.to_string() for frame in at.dataframe]
    return " ".join(map(str, parts))


def uploads_offered(at: AppTest, key: str) -> list[str]:
    """The labels of the uploads a selectbox offers (AppTest reads the labels the page shows)."""
    return [label for label in at.selectbox(key=key).options if "(upload," in label]


def trained(store: RunStore, workspace: str | None, name: str) -> str:
    owner = store.acting_as(Actor(workspace)) if workspace else store
    run_id = owner.create_run(TINY.to_dict(), name=name)
    execute(store, run_id, TINY)
    return run_id


def test_a_new_visitor_gets_a_workspace_in_the_url(public):
    at = open_page("app_pages/train")
    assert not at.exception
    assert len(at.query_params["ws"]) == 22


def test_another_workspaces_runs_are_on_no_page(public):
    run_id = trained(public, A, "alices-secret-run")
    for page in ("app_pages/train", "app_pages/inspect", "app_pages/runs"):
        theirs = open_page(page, B)
        assert not theirs.exception, page
        assert "No runs yet" in text_of(theirs), page
        assert "alices-secret-run" not in text_of(theirs) and run_id[-6:] not in text_of(theirs), page
        mine = open_page(page, A)
        assert not mine.exception and "alices-secret-run" in text_of(mine), page


def test_the_sidebar_counts_only_the_workspaces_own_runs_and_gives_its_link(public):
    trained(public, A, "one")
    trained(public, A, "two")
    trained(public, None, "from a shell")
    sidebar = open_page("app", B)
    assert not sidebar.exception
    assert "Your workspace: 0 runs · 0/1 training now" in text_of(sidebar)
    assert any(f"?ws={B}" in code.value for code in sidebar.code)
    assert "Your workspace: 2 runs" in text_of(open_page("app", A))


def test_uploads_are_listed_only_in_the_workspace_that_made_them(public, tmp_path):
    data_dir = tmp_path / "data"
    workspaces.import_upload(public.acting_as(Actor(A)), zip_bytes(guide_files(20, 4)), "a.zip", data_dir)
    for page, key in (("app_pages/data", "data_dataset"), ("app_pages/train", "train_dataset")):
        assert uploads_offered(open_page(page, A), key) == ["a.zip (upload, 24 images)"], page
        at = open_page(page, B)
        assert not at.exception and uploads_offered(at, key) == [], page


def test_an_upload_through_the_data_page_belongs_to_the_uploader(public):
    at = open_page("app_pages/data", A)
    at.file_uploader(key="data_upload").set_value(("mine.zip", zip_bytes(guide_files(20, 4)), "application/zip"))
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="data_dataset").value.startswith("upload:")
    assert workspaces.claimed_uploads(public.acting_as(Actor(A))) == {at.selectbox(key="data_dataset").value}
    assert uploads_offered(open_page("app_pages/data", B), "data_dataset") == []


def test_an_example_run_is_read_only_and_its_settings_fill_the_form(public):
    run_id = trained(public, None, "example")
    at = open_page("app_pages/runs", B)
    assert not at.exception
    assert "Read-only" in text_of(at) and "example" in text_of(at)
    for key in ("runs_rename_button", "runs_delete", "runs_resume", "runs_replay", "runs_share"):
        assert not [button for button in at.button if button.key == key], key
    at.button(key="runs_use_settings").click().run()
    assert at.session_state["train_epochs"] == 1 and at.session_state["train_hidden"] == "8"
    assert "Settings copied" in text_of(at)
    assert public.get(run_id).name == "example"


def test_a_share_link_shows_the_run_read_only(public):
    run_id = trained(public, A, "shared-run")
    token = workspaces.share(public.acting_as(Actor(A)), run_id)
    at = open_page("app_pages/train", B, share=token)
    assert not at.exception
    assert run_id == at.selectbox(key="train_watch").value and "Read-only" in text_of(at)
    assert not [button for button in at.button if button.key == "train_stop"]
    runs = open_page("app_pages/runs", B, share=token)
    assert "shared" in text_of(runs) and not [b for b in runs.button if b.key == "runs_rename_button"]
    assert "This share link opens no run" not in text_of(open_page("app", B, share=token))
    assert "This share link opens no run" in text_of(open_page("app", B, share="x" * 22))


def test_a_view_cached_for_one_workspace_is_refused_to_another(public, monkeypatch):
    """The dashboard's caches are shared by every session: what one visitor loaded must not be handed,
    from the cache, to a visitor who names the same run without being allowed to see it."""
    run_id = trained(public, A, "mine")
    source, stamp = inspection.dataset_source(TINY.to_dict()), 1.0
    views = [(inspect_sections, lambda: inspect_sections.load_summary(run_id, None, stamp, source)),
             (inspect_sections, lambda: inspect_sections.load_model(run_id, stamp)),
             (inside_sections, lambda: inside_sections.load(run_id, stamp)),
             (flip_section, lambda: flip_section.flips(run_id, run_id, (1, 1), (stamp, stamp), source))]
    for module, view in views:
        monkeypatch.setattr(module, "store", lambda: public.acting_as(Actor(A)))
        assert view() is not None  # loaded, and now cached
        monkeypatch.setattr(module, "store", lambda: public.acting_as(Actor(B)))
        with pytest.raises(NotAllowed):
            view()


def test_the_owner_shares_from_the_runs_page(public):
    run_id = trained(public, A, "to share")
    at = open_page("app_pages/runs", A)
    at.button(key="runs_share").click().run()
    assert not at.exception
    [link] = [code.value for code in at.code if "?share=" in code.value]
    assert workspaces.shared_run(public, link.split("?share=")[1]) == run_id


def test_the_form_holds_to_the_limits_and_says_why_start_is_off(public, monkeypatch):
    monkeypatch.setenv("DIGITLAB_MAX_EPOCHS", "7")
    at = open_page("app_pages/train", A)
    assert at.number_input(key="train_epochs").max == 7 and at.number_input(key="train_batch_size").max == 1024
    at.text_input(key="train_hidden").input("4096,4096,4096,4096").run()
    assert at.button(key="train_start").disabled
    assert any("DIGITLAB_MAX_PARAMETERS" in warning.value for warning in at.warning)
    at.text_input(key="train_hidden").input("50").run()
    assert not at.button(key="train_start").disabled
    at.button(key="train_start").click().run()
    assert not at.exception and len(public.list_runs()) == 1
    assert at.button(key="train_start").disabled  # one run at a time per workspace
    assert any("DIGITLAB_RUNS_PER_WORKSPACE" in warning.value for warning in at.warning)
    public.request_stop(public.list_runs()[0].id)


def test_laptop_mode_shows_every_run_and_no_workspace(runs_dir):
    store = RunStore(runs_dir)
    trained(store, A, "a visitor's")
    trained(store, None, "mine")
    at = open_page("app_pages/runs")
    assert "a visitor's" in text_of(at) and "mine" in text_of(at) and "access" not in at.dataframe[0].value
    assert not at.query_params.get("ws")


def test_the_switch_and_the_limits_can_come_from_streamlit_secrets(runs_dir):
    at = AppTest.from_file(str(ROOT / "dashboard/app_pages/train.py"), default_timeout=60)
    at.secrets["DIGITLAB_PUBLIC"] = "1"
    at.secrets["DIGITLAB_MAX_EPOCHS"] = "9"
    at.run()
    assert not at.exception and at.query_params.get("ws") and at.number_input(key="train_epochs").max == 9


def test_a_signed_in_users_workspace_follows_them_to_any_browser(public):
    user = {"is_logged_in": True, "iss": "https://accounts.example", "sub": "1234", "email": "ada@example.com"}
    sessions = []
    for _ in range(2):  # two sessions, no ?ws= in either: the sign-in alone names the workspace
        at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=60)
        at.user = user
        sessions.append(at.run())
    assert not sessions[0].exception and not sessions[0].query_params.get("ws")
    assert "Signed in as ada@example.com" in text_of(sessions[0])
    trained(public, workspaces.user_workspace("https://accounts.example:1234"), "ada's run")
    assert "Your workspace: 1 run" in text_of(sessions[1].run())


def test_a_signed_in_users_workspace_cannot_be_opened_by_its_address(public):
    theirs = workspaces.user_workspace("https://accounts.example:1234")
    trained(public, theirs, "ada's run")
    at = open_page("app_pages/runs", theirs)  # computable from the subject, so ?ws= must not open it
    assert not at.exception and "ada's run" not in text_of(at) and at.query_params["ws"] != theirs


def test_links_point_at_the_app_the_visitor_opened(public):
    run_id = trained(public, A, "linked")
    at = AppTest.from_file(str(ROOT / "dashboard/app_pages/runs.py"), default_timeout=60)
    at.query_params["ws"] = A
    at.context = {"url": "https://digits.example/runs"}
    at.run()
    at.button(key="runs_share").click().run()
    [link] = [code.value for code in at.code if "?share=" in code.value]
    assert link.startswith("https://digits.example/?share=") and workspaces.shared_run(public, link[-22:]) == run_id


def test_a_misconfigured_limit_stops_the_page_with_what_to_fix(public, monkeypatch):
    monkeypatch.setenv("DIGITLAB_MAX_BATCH_SIZE", "lots")
    at = open_page("app_pages/train", A)
    assert not at.exception
    assert any("DIGITLAB_MAX_BATCH_SIZE must be a whole number above 0, got 'lots'" in e.value for e in at.error)


@pytest.mark.parametrize("page", ["app_pages/sweeps", "app_pages/ladder"])
def test_sweeps_and_the_ladder_are_not_offered_to_visitors(public, page):
    at = open_page(page, workspace="a" * 22)
    assert not at.exception
    assert "public deployment does not offer them" in text_of(at)
    assert not [button for button in at.button if button.label.startswith(("Start", "Resume"))]


def test_the_learning_rate_finder_keeps_to_the_limits_a_run_has(public, monkeypatch):
    from dashboard import lr_find_section

    monkeypatch.setenv("DIGITLAB_MAX_PARAMETERS", "10000")
    ran = []
    monkeypatch.setattr(lr_find_section, "lr_find", lambda *args, **kwargs: ran.append(1))
    at = open_page("app_pages/train", A)
    at.button(key="train_lr_find").click().run()  # the guide's MLP: 39,760 parameters
    assert not at.exception and not ran
    assert any("No learning rate found" in e.value and "DIGITLAB_MAX_PARAMETERS" in e.value for e in at.error)
