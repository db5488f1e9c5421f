"""This browser's identity and rights, from the signed cookie the front set.

Read on every script run from ``st.context.cookies`` (the cookies of the connection that
sent this run), never from ``st.session_state``: a client that resumes another browser's
session id with its own (or no) cookie gets its own rights, not that session's.

``browser_id()`` is stable for a browser across reloads and restarts (chats can be keyed on
it). Without a valid cookie (Streamlit reached directly, not through the front) it is a
per-session id starting with ``session-``, which does not outlive the session.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from pathlib import Path

import streamlit as st

from src.access.roles import Access, Policy
from src.access.session_cookie import COOKIE_NAME, Revocations, access_for, load_secret
from src.ui import state

_SESSION_ID = "_olympus_session_browser_id"
_secrets: dict[tuple[Path, str], bytes] = {}
_revocations: dict[Path, Revocations] = {}


def _secret() -> bytes:
    settings = state.settings()
    key = (settings.data_dir, settings.secret_key)
    if key not in _secrets:
        _secrets[key] = load_secret(settings.data_dir, settings.secret_key)
    return _secrets[key]


def access() -> Access:
    """This browser's rights for the current run."""
    policy = Policy.from_settings(state.settings())
    data_dir = state.settings().data_dir
    revocations = _revocations.setdefault(data_dir, Revocations(data_dir))
    found, _ = access_for(
        st.context.cookies.get(COOKIE_NAME),
        policy,
        _secret(),
        now=time.time(),
        revoked=revocations.revoked,
    )
    if found.browser_id:
        return found
    if _SESSION_ID not in st.session_state:
        st.session_state[_SESSION_ID] = "session-" + secrets.token_urlsafe(12)
    return dataclasses.replace(found, browser_id=st.session_state[_SESSION_ID])


def browser_id() -> str:
    """A stable id of this browser (see the module docstring)."""
    return access().browser_id
