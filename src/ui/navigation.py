"""The app's pages (``st.Page`` objects), defined once so pages can link to each other.

Each page is a tiny script under ``src/ui/pages/`` (so AppTest can switch to it); the page
logic is the module of the same name in ``src/ui/``.
"""

from __future__ import annotations

import streamlit as st

_DIR = "src/ui/pages"


def chat_page() -> st.Page:
    return st.Page(
        f"{_DIR}/chat.py", title="Chat", icon=":material/forum:", url_path="chat", default=True
    )


def documents_page() -> st.Page:
    return st.Page(
        f"{_DIR}/documents.py",
        title="Documents",
        icon=":material/description:",
        url_path="documents",
    )


def models_page() -> st.Page:
    return st.Page(f"{_DIR}/models.py", title="Models", icon=":material/memory:", url_path="models")


def system_page() -> st.Page:
    return st.Page(
        f"{_DIR}/system.py", title="System", icon=":material/monitor_heart:", url_path="system"
    )


def all_pages() -> list[st.Page]:
    return [chat_page(), documents_page(), models_page(), system_page()]
