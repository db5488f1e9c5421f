"""The current chat of this session and the sidebar list of this browser's saved chats.

The chat being shown lives in ``st.session_state[CURRENT]`` (a ``src/chat_store.py`` chat
dict); it is saved after every answer. A new session (a reload, a restart) opens the most
recently used chat of this browser. The sidebar offers: new chat, search, switch, and for the
current chat rename and delete (with confirmation).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st
import structlog

from src.chat_store import ChatStore, SessionChats, new_chat, title_of
from src.ui import identity, render, state
from src.ui.errors import show_error

logger = structlog.get_logger(__name__)

CURRENT = "chat_current"
SEARCH = "chat_list_search"
SAVE_ERROR = "chat_save_error"
SESSION_CHATS = "chat_session_store"
SHOWN = 30  # chats listed without a search


def saved_on_disk() -> bool:
    """Whether this browser has the front's stable id (else chats last for the session)."""
    return not identity.browser_id().startswith("session-")


def store() -> ChatStore:
    """This browser's chats: on disk with a stable browser id, else in the session."""
    s = state.settings()
    if saved_on_disk():
        return ChatStore.for_browser(s, identity.browser_id())
    return SessionChats(
        st.session_state.setdefault(SESSION_CHATS, {}),
        max_chats=s.max_chats,
        max_bytes=s.max_chat_kb * 1024,
    )


def current() -> dict[str, Any]:
    """This session's chat: on first use the browser's most recent saved chat, else a new one."""
    if CURRENT not in st.session_state:
        chat = None
        try:
            recent = store().list()
            chat = store().load(recent[0]["id"]) if recent else None
        except Exception as exc:  # noqa: BLE001 - a damaged chat must not block the page
            logger.warning("chats.open_recent_failed", error=str(exc))
        st.session_state[CURRENT] = chat or new_chat()
    return st.session_state[CURRENT]


def save() -> None:
    """Save the current chat (when it has messages); a limit is shown, nothing is lost."""
    chat = current()
    if not chat["messages"]:
        return
    try:
        store().save(chat)
        st.session_state.pop(SAVE_ERROR, None)
    except Exception as exc:  # noqa: BLE001 - the answer stays on screen; say why it is unsaved
        logger.warning("chats.save_failed", error=str(exc))
        st.session_state[SAVE_ERROR] = exc


def show_save_error() -> None:
    if st.session_state.get(SAVE_ERROR) is not None:
        show_error(st.session_state[SAVE_ERROR], doing="save this chat")


def start_new() -> None:
    """A new empty chat with the current chat's settings (saved with its first question)."""
    st.session_state[CURRENT] = new_chat(current().get("settings"))
    st.session_state.pop(SAVE_ERROR, None)


def _open(chat_id: str) -> None:
    try:
        st.session_state[CURRENT] = store().load(chat_id)
    except Exception as exc:  # noqa: BLE001 - shown in the sidebar
        st.session_state[SAVE_ERROR] = exc


def _rename(chat_id: str, key: str) -> None:
    title = str(st.session_state.get(key) or "").strip()
    if not title:
        return
    chat = current()
    chat["title"] = title
    if chat["messages"]:
        save()


def _delete(chat_id: str) -> None:
    store().delete(chat_id)
    st.session_state[CURRENT] = new_chat(current().get("settings"))


def _when(ts: float) -> str:
    then = dt.datetime.fromtimestamp(ts)
    today = dt.date.today()
    if then.date() == today:
        return then.strftime("%H:%M")
    if then.year == today.year:
        return then.strftime("%d %b")
    return then.strftime("%d %b %Y")


def render_sidebar() -> None:
    """New chat, search, the list (current first marked), rename and delete the current one."""
    chat = current()
    with st.sidebar:
        st.button(
            "New chat",
            icon=":material/add_comment:",
            key="chat_new",
            on_click=start_new,
            width="stretch",
            disabled=not chat["messages"],
        )
        search = st.text_input(
            "Search chats", key=SEARCH, placeholder="Search chats", label_visibility="collapsed"
        )
        try:
            chats = store().list(search)
        except Exception as exc:  # noqa: BLE001 - entry point
            show_error(exc, doing="list your chats")
            return
        if search and not chats:
            st.caption("No chat contains these words.")
        for item in chats[: None if search else SHOWN]:
            is_current = item["id"] == chat["id"]
            # when it was last used, in the label: a tooltip would cover the entry above
            st.button(
                f"{render.escape_markdown(item['title'])} :small[· {_when(item['updated_at'])}]",
                key=f"chat_open_{item['id']}",
                on_click=_open,
                args=(item["id"],),
                width="stretch",
                type="primary" if is_current else "tertiary",
                icon=":material/chat:",
            )
        if not search and len(chats) > SHOWN:
            st.caption(f"{len(chats) - SHOWN} older chat(s): search to find them.")
        if not saved_on_disk():
            st.caption(
                "Chats last until this tab is closed: open Olympus through its own "
                "address (python startup.py) to keep them."
            )
        if chat["messages"]:
            _current_actions(chat)


def _current_actions(chat: dict[str, Any]) -> None:
    with st.popover("Rename or delete this chat", icon=":material/edit:", width="stretch"):
        key = f"chat_title_{chat['id']}"
        with st.form(f"chat_rename_{chat['id']}", border=False, enter_to_submit=True):
            st.text_input("Title", value=title_of(chat), key=key, max_chars=80)
            st.form_submit_button(
                "Save", icon=":material/check:", on_click=_rename, args=(chat["id"], key)
            )
        confirm = st.checkbox("Yes, delete this chat", key=f"chat_delete_ok_{chat['id']}")
        st.button(
            "Delete chat",
            icon=":material/delete:",
            key=f"chat_delete_{chat['id']}",
            disabled=not confirm,
            on_click=_delete,
            args=(chat["id"],),
        )
