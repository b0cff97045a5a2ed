"""Public mode: which workspace a browser session acts as, the runs it opened through share links, its limits.

Off unless ``DIGITLAB_PUBLIC=1`` (in the environment, or the same key in Streamlit secrets); then
laptop mode's single implicit workspace gives way to one per visitor. A session acts as the
signed-in user's workspace (``st.login``), else the ``?ws=`` token of its URL, else the one this
browser remembers in a cookie, else a new one; the token is put back into the URL on every
run, so a reload on any page keeps it. ``dashboard.common.store`` binds the run store to it,
and core refuses whatever this workspace may not do.
"""
from __future__ import annotations

import os
import time

import streamlit as st

from core.data.digits import default_data_dir
from core.store import workspaces
from core.store.access import VARIABLES, Actor, Limits
from core.store.run_store import RunStore

TRUE = ("1", "true", "yes", "on")
COOKIE = "digitlab_ws"
COOKIE_AGE_S = 90 * 86_400  # longer than any sensible idle period: cleanup, not the cookie, ends a workspace
CLEANUP_EVERY_S = 3_600.0
OVERDUE_EVERY_S = 10.0  # how late a run past the time limit may be stopped, while anyone has a page open
SHARED_KEYS = ("train_watch", "inspect_run", "runs_selected")  # pages' run pickers: a share link opens on its run

# Sets the cookie from the browser: Streamlit can read cookies (st.context.cookies) but not set them.
REMEMBER_JS = """
export default function ({ data }) {
  if (data && data.value) {
    document.cookie = `${data.name}=${data.value}; path=/; max-age=${data.age}; SameSite=Lax`;
  }
}
"""
_remember = st.components.v2.component("digitlab_remember_workspace", js=REMEMBER_JS)


def setting(key: str) -> str:
    """An environment variable, else the same key at the top of Streamlit's secrets, else ""."""
    value = os.environ.get(key, "")
    if not value and st.secrets.load_if_toml_exists():
        value = str(st.secrets.get(key, ""))
    return value.strip()


def public() -> bool:
    return setting("DIGITLAB_PUBLIC").lower() in TRUE


def limits() -> Limits:
    """This server's limits; a misconfigured variable stops the page with what to fix."""
    try:
        return Limits.from_env({name: setting(name) for name in VARIABLES.values()})
    except ValueError as exc:
        st.error(str(exc))
        st.stop()


def signed_in_subject() -> str | None:
    """The provider's stable id of a user signed in through st.login; None when nobody is (or no login is set up)."""
    if not st.user.get("is_logged_in"):
        return None
    subject = st.user.get("sub") or st.user.get("email")
    return f"{st.user.get('iss', '')}:{subject}" if subject else None


def workspace_id(base: RunStore) -> str:
    """This session's workspace (see the module docstring), resolved again only when the URL names another."""
    subject = signed_in_subject()
    in_url = st.query_params.get("ws", "")
    if subject:
        workspace = workspaces.user_workspace(subject)
    elif workspaces.token_opens(in_url):
        workspace = in_url
    elif "ws_id" in st.session_state:
        workspace = st.session_state.ws_id
    elif workspaces.token_opens(st.context.cookies.get(COOKIE, "")):
        workspace = st.context.cookies[COOKIE]
    else:
        workspace = workspaces.new_workspace_id()
    if st.session_state.get("ws_id") != workspace:
        st.session_state.ws_id = workspace
        workspaces.touch(base, workspace)
    if not subject and in_url != workspace:
        st.query_params["ws"] = workspace  # navigating between pages clears the URL's parameters
    return workspace


def shared_runs(base: RunStore) -> frozenset[str]:
    """Runs this browser session opened through ``?share=TOKEN`` links; a new link selects its run on every page."""
    opened: dict = st.session_state.setdefault("ws_shared", {})  # token -> run id, or None for a dead link
    token = st.query_params.get("share", "")
    if token and token not in opened:
        opened[token] = workspaces.shared_run(base, token)
        if opened[token]:
            st.session_state.update({key: opened[token] for key in SHARED_KEYS})
            st.session_state.ws_share_token = token
        else:
            st.session_state.ws_notice = ("This share link opens no run: it is mistyped, or the run was deleted. "
                                          "Ask for a new link.")
    kept = st.session_state.get("ws_share_token")
    if kept and not token:
        st.query_params["share"] = kept  # so a reload after a page change still opens it
    return frozenset(run_id for run_id in opened.values() if run_id)


def actor(base: RunStore) -> Actor:
    if "ws_limits" not in st.session_state:
        st.session_state.ws_limits = limits()
    housekeeping(base, st.session_state.ws_limits)
    return Actor(workspace_id(base), st.session_state.ws_limits, shared_runs(base))


def housekeeping(base: RunStore, server: Limits) -> None:
    """The server's chores, done by whichever session runs next (the sidebar polls every 3 s):
    stop runs past the time limit every few seconds, remove idle workspaces once an hour."""
    clock, now = _clock(), time.monotonic()
    if now - clock.get("overdue", -OVERDUE_EVERY_S) >= OVERDUE_EVERY_S:
        clock["overdue"] = now
        workspaces.stop_overdue(base, server.run_minutes)
    if now - clock.get("cleanup", -CLEANUP_EVERY_S) >= CLEANUP_EVERY_S:
        clock["cleanup"] = now
        workspaces.cleanup(base, default_data_dir(), server.idle_days)


@st.cache_resource(show_spinner=False)
def _clock() -> dict:
    """When each chore last ran in this server process (one dict shared by every session)."""
    return {}


def remember_in_browser(workspace: str) -> None:
    """Have this browser keep the workspace in a cookie, so the bare address finds it again."""
    if st.context.cookies.get(COOKIE) != workspace:
        _remember(data={"name": COOKIE, "value": workspace, "age": COOKIE_AGE_S}, key="ws_cookie", height=0)


def link(workspace: str) -> str:
    """The address that opens this workspace from any browser."""
    base = (st.context.url or "").split("?")[0]
    return f"{base}?ws={workspace}"
