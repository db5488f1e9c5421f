"""Olympus web app: page config, sign-in gate, navigation. Pages live in src/ui/.

Run it through the supervisor (``python startup.py``) or directly:
``streamlit run streamlit_app.py``.
"""

from pathlib import Path

import streamlit as st

from src.ui import auth, navigation, phone, state
from src.ui.errors import show_error

ICON = Path(__file__).resolve().parent / "src" / "ui" / "assets" / "favicon.png"

# the icon ships with the app (a Material icon name would be fetched from a font CDN)
st.set_page_config(
    page_title="Olympus", page_icon=str(ICON), layout="centered", initial_sidebar_state="auto"
)
try:
    settings = state.settings()
    state.configure_logging()
except Exception as exc:  # noqa: BLE001 - entry point: a friendly message, not a trace
    show_error(exc, doing="read the settings")
    st.stop()
if not auth.require_access():
    st.stop()
st.navigation(navigation.all_pages()).run()
auth.account_links()
phone.close_sidebar_after_choice()
