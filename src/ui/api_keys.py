"""The System page's API keys (admin only): make one (shown once), list, revoke.

The same key store as ``python -m src keys``; the actions check the role where they act.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st
import structlog

from src.access.keys import DEFAULT_SCOPE, SCOPES, ApiKey, KeyStore
from src.access.roles import Access
from src.ui import admin, state
from src.ui.errors import show_error

logger = structlog.get_logger(__name__)
_NEW = "_olympus_new_api_key"
SCOPE_HELP = (
    "read: search, ask and list documents; write: also upload and delete documents; "
    "admin: also keys and models. Keys made before scopes existed work as write."
)


def create_key(access: Access, name: str, scope: str = DEFAULT_SCOPE) -> tuple[ApiKey, str]:
    access.require_admin("create API keys")
    return KeyStore(state.settings().data_dir).create(name, scope)


def revoke_key(access: Access, key_id: str) -> ApiKey:
    access.require_admin("revoke API keys")
    return KeyStore(state.settings().data_dir).revoke(key_id)


def _row(key: ApiKey) -> str:
    made = datetime.fromtimestamp(key.created_at).strftime("%Y-%m-%d %H:%M")
    state_ = "active" if key.active else "revoked"
    return (
        f"`{key.id}` **{key.name}** · `{key.shown}…` · scope **{key.scope}** · "
        f"created {made} · {state_}"
    )


def render(access: Access) -> None:
    st.subheader("API keys")
    st.caption(
        "For the OpenAI-compatible API (/v1) and MCP (/api/mcp): clients send "
        "`Authorization: Bearer <key>`. See README, Using Olympus from other tools."
    )
    if not access.is_admin:
        admin.explain_admin_only(access, "manage API keys")
        return
    new = st.session_state.pop(_NEW, None)
    if new:
        st.success(f"Key for {new[0]} created. Copy it now: it is not shown again.")
        st.code(new[1], language=None)
    try:
        keys = KeyStore(state.settings().data_dir).list()
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="read the API keys")
        return
    for key in keys:
        st.markdown(_row(key))
    with st.form("api_key_create", clear_on_submit=True):
        name = st.text_input("Name of the new key (who or what uses it)", key="api_key_name")
        scope = st.selectbox(
            "Scope", SCOPES, index=SCOPES.index(DEFAULT_SCOPE), key="api_key_scope", help=SCOPE_HELP
        )
        if st.form_submit_button("Create key"):
            try:
                key, secret = create_key(access, name, scope)
            except Exception as exc:  # noqa: BLE001 - entry point
                show_error(exc, doing="create the key")
            else:
                st.session_state[_NEW] = (key.name, secret)
                st.rerun()
    active = [k.id for k in keys if k.active]
    if active:
        choice = st.selectbox("Key to revoke", active, key="api_key_revoke_choice")
        if st.button("Revoke key", key="api_key_revoke"):
            try:
                revoked = revoke_key(access, choice)
            except Exception as exc:  # noqa: BLE001 - entry point
                show_error(exc, doing="revoke the key")
            else:
                st.success(f"Key {revoked.id} ({revoked.name}) revoked; it stops working now.")
                st.rerun()
