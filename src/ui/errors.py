"""Errors as users see them: a friendly message and the fix; the details go to the log.

Streamlit's own control-flow exceptions (stop, rerun, page switch) derive from
``BaseException`` and pass through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
import structlog

from shared_utils.errors import OlympusError, ServiceUnavailable
from src.ui.render import escape_markdown

logger = structlog.get_logger(__name__)

GENERIC_HINT = (
    "The details are in the server log. Try again; if it keeps happening, restart Olympus "
    "(python startup.py) and report the log lines."
)


def friendly(exc: BaseException) -> tuple[str, str]:
    """(message, hint) for ``exc``: typed errors carry their own; anything else is generic.

    >>> from shared_utils.errors import EncryptedPdf
    >>> friendly(EncryptedPdf("manual.pdf is password protected"))[0]
    'manual.pdf is password protected'
    >>> friendly(KeyError("x"))[0]
    'Something went wrong (KeyError).'
    """
    if isinstance(exc, OlympusError):
        return exc.message, exc.hint
    return f"Something went wrong ({type(exc).__name__}).", GENERIC_HINT


STARTING_PATIENCE_S = 60.0  # how long a page waits for the service before it shows the error
_STARTING_SINCE = "_olympus_service_starting_since"


def show_error(exc: BaseException, *, doing: str = "") -> None:
    """Log ``exc`` (with trace for unexpected ones) and show the friendly version. While the
    service that owns the stores is still starting, the page says so and looks again."""
    if isinstance(exc, ServiceUnavailable) and _wait_for_service():
        return
    st.session_state.pop(_STARTING_SINCE, None)
    message, hint = friendly(exc)
    if isinstance(exc, OlympusError):
        logger.warning("ui.error", doing=doing, error=message, kind=type(exc).__name__)
    else:
        logger.exception("ui.unexpected_error", doing=doing)
    prefix = f"Could not {doing}: " if doing else ""
    show_message(f"{prefix}{message}", hint)


def _wait_for_service() -> bool:
    """Say that the library is opening and rerun the page in a moment, for up to
    ``STARTING_PATIENCE_S``; False once that has passed (the error is then shown)."""
    since = st.session_state.setdefault(_STARTING_SINCE, time.monotonic())
    if time.monotonic() - since > STARTING_PATIENCE_S:
        return False
    st.info(
        "Olympus is opening the document library; this page fills in by itself in a few seconds.",
        icon=":material/hourglass_top:",
    )
    time.sleep(1.0)
    st.rerun()
    return True  # not reached: rerun ends this run


def show_message(message: str, hint: str = "") -> None:
    """An error box and its fix, shown as literal text: a message quoting a file name, a
    server reply or a PDF's text can hold Markdown, HTML or links, and none of it is live."""
    st.error(escape_markdown(message), icon=":material/error:")
    if hint:
        st.caption(f"How to fix: {escape_markdown(hint)}")


@contextmanager
def friendly_errors(doing: str = "") -> Iterator[None]:
    """Show errors raised inside the block as friendly messages instead of traces."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - entry point: rendered, logged
        show_error(exc, doing=doing)
