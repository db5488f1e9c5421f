"""Optional access password (``OLYMPUS_PASSWORD``) for public deployments.

The password is compared in constant time; a wrong one costs a short, growing delay per
session, which makes guessing through the form slow. Authentication lasts for the browser
session (a refresh asks again).
"""

from __future__ import annotations

import hmac
import time

import streamlit as st
import structlog

logger = structlog.get_logger(__name__)

_KEY = "_olympus_authenticated"
_FAILS = "_olympus_auth_failures"


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of two passwords.

    >>> password_matches("s3cret", "s3cret"), password_matches("s3cre", "s3cret")
    (True, False)
    """
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_password(expected: str) -> bool:
    """True when no password is set or this session gave it; otherwise draw the form."""
    if not expected or st.session_state.get(_KEY):
        return True
    st.title("Olympus")
    with st.form("olympus_login", border=True):
        st.write("This Olympus is protected. Enter the access password.")
        given = st.text_input("Password", type="password", key="_olympus_password_input")
        submitted = st.form_submit_button("Unlock", type="primary")
    if submitted:
        if password_matches(given or "", expected):
            st.session_state[_KEY] = True
            logger.info("ui.auth.ok")
            st.rerun()
        failures = int(st.session_state.get(_FAILS, 0)) + 1
        st.session_state[_FAILS] = failures
        logger.warning("ui.auth.failed", failures=failures)
        time.sleep(min(5.0, 0.25 * failures))
        st.error("Wrong password.", icon=":material/lock:")
        st.caption("Ask the person who runs this Olympus; it is set by OLYMPUS_PASSWORD.")
    return False


def logout_button() -> None:
    """A sidebar button to lock the app again (only when a password is set)."""
    if st.session_state.get(_KEY) and st.sidebar.button("Lock", icon=":material/lock:"):
        st.session_state[_KEY] = False
        st.rerun()
