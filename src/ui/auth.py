"""The sign-in gate as the Streamlit script sees it, and the sidebar's account links.

The front (``src/front/``) serves the sign-in form and sets the signed cookie; a browser
that comes through it unsigned is sent to the form before Streamlit sees it. This gate is
the second line: every run checks the cookie again (``identity.access()``), so a run
without the right to read (Streamlit reached directly, or a session id reused without the
cookie) shows only a link to the sign-in page.
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlsplit

import streamlit as st
import structlog

from src.access.roles import SIGN_IN_PATH, SIGN_OUT_PATH
from src.ui import identity

logger = structlog.get_logger(__name__)
_OWNER = "_olympus_session_owner"


def require_access() -> bool:
    """True when this browser may read; otherwise draw the sign-in notice.

    A session's state belongs to the browser that started it: a run from another browser
    id (a session id resumed by someone else) starts from an empty state, so it sees
    nothing of the first browser's chat or uploads, and saves nothing into its folder.
    """
    access = identity.access()
    owner = st.session_state.get(_OWNER)
    if owner is not None and owner != access.browser_id:
        logger.warning("ui.auth.session_taken_over_refused")
        st.session_state.clear()
        access = identity.access()
    st.session_state[_OWNER] = access.browser_id
    if access.can_read:
        return True
    logger.info("ui.auth.unsigned_run")
    path = urlsplit(st.context.url or "").path or "/"
    st.title("Olympus")
    st.write("This Olympus is protected.")
    _link("Sign in", f"{SIGN_IN_PATH}?next={quote(path, safe='/')}")
    st.caption("Ask the person who runs this Olympus for the password (OLYMPUS_PASSWORD).")
    return False


def account_links() -> None:
    """Sidebar: sign out after a sign-in, or sign in as administrator when that helps."""
    access = identity.access()
    if access.policy.closed and access.is_admin:
        st.sidebar.warning(
            "No password is set and this Olympus is reachable from other "
            "machines. Set OLYMPUS_PASSWORD (readers) and OLYMPUS_ADMIN_PASSWORD "
            "(administrators), then restart Olympus."
        )
    if access.signed_in:
        role = "administrator" if access.is_admin else "reader"
        st.sidebar.caption(f"Signed in as {role}.")
        _link("Sign out", SIGN_OUT_PATH, sidebar=True)
    elif access.policy.admin_password and not access.is_admin:
        _link("Sign in as administrator", SIGN_IN_PATH, sidebar=True)


def _link(label: str, href: str, *, sidebar: bool = False) -> None:
    """A link that opens in this tab (Streamlit's link buttons open a new one): the
    front's sign-in and sign-out pages answer with the cookie and send the browser back."""
    where = st.sidebar if sidebar else st
    where.html(
        f'<a href="{html.escape(href)}" class="olympus-account-link">{html.escape(label)}</a>'
    )
