"""What public mode adds to the pages: the workspace box, read-only notes, share links, why Start is off.

Every function here draws nothing in laptop mode (a store with no actor), so the pages call them
unconditionally.
"""
import re

import streamlit as st

from core.config import TrainConfig
from core.store import workspaces
from core.store.access import parameter_count
from dashboard import workspace
from dashboard.common import access, store
from dashboard.train_form import fill_from

PAGE_PATH = re.compile(r"/(train|inspect|runs|data|learn_[a-z_]+)/?$")  # st.Page url paths, from file names


def sidebar_box() -> None:
    """This visitor's workspace: the link that opens it elsewhere, or who is signed in."""
    bound = store()
    if bound.actor is None:
        return
    if notice := st.session_state.pop("ws_notice", None):
        st.warning(notice)
    if workspace.signed_in_subject():
        st.caption(f"Signed in as {st.user.get('email') or st.user.get('name')}: your workspace follows you.")
        st.button("Sign out", key="ws_logout", on_click=st.logout)
    else:
        st.caption("**Your workspace** is private to this link: open it in another browser to continue there. "
                   "Anyone who has it can change your runs, so keep it to yourself.")
        st.code(workspace.link(bound.actor.workspace), language=None, wrap_lines=True)
        if st.secrets.load_if_toml_exists() and "auth" in st.secrets:  # st.login is set up
            st.button("Sign in to keep it on every device", key="ws_login", on_click=st.login)
        workspace.remember_in_browser(bound.actor.workspace)
    st.caption("Runs marked *example* were started on the server itself: everyone sees them, read-only.")


def read_only_note(run, key: str) -> None:
    """For a run this workspace does not own: whose it is, and its settings offered for the Train form."""
    if copied := st.session_state.pop("train_copied", None):
        st.success(copied)
    if store().owns(run):
        return
    why = "an example started on the server" if access(run) == "example" else "shared with you through a link"
    st.info(f"**Read-only**: {why}. You can watch it, inspect it and copy its settings, but not change it.")
    st.button("Use these settings on the Train form", key=f"{key}_use_settings", on_click=fill_from,
              args=(run.config,), icon=":material/content_copy:")


def app_root() -> str:
    """The app's address without the page's path or parameters (a share link opens on the Train page)."""
    return PAGE_PATH.sub("", (st.context.url or "").split("?")[0])


def share_section(run) -> None:
    """A read-only link to one of this workspace's runs."""
    if st.button("Share this run", key="runs_share", icon=":material/share:"):
        st.session_state.runs_share_link = (run.id, workspaces.share(store(), run.id))
    shown = st.session_state.get("runs_share_link")
    if shown and shown[0] == run.id:
        st.code(f"{app_root()}/?share={shown[1]}", language=None, wrap_lines=True)
        st.caption("Anyone with this link sees this run's curves, Inspect view and settings, read-only, and can "
                   "copy its settings into their own workspace. Deleting the run ends the link.")
    else:
        st.caption("Makes a read-only link: nobody sees this run without it.")


def start_refusal(fields: dict) -> str | None:
    """Why Start would be refused now (public mode), said beside a disabled button; the model's size otherwise."""
    bound = store()
    if bound.actor is None:
        return None
    try:
        config = TrainConfig.from_dict(fields).validate()
    except ValueError:
        return None  # Start says what is wrong with the form
    try:
        bound.admission(config.to_dict(), server_wide=False)
    except ValueError as exc:
        return str(exc)
    st.caption(f"{parameter_count(config):,} parameters (this server allows up to "
               f"{bound.actor.limits.parameters:,}); at most {bound.actor.limits.epochs} epochs and "
               f"{bound.actor.limits.run_minutes:g} minutes of training.")
    return None
