"""Error messages and hints are shown as literal text, never Markdown/HTML (a
file name or a model's error text must not inject a link or a script into the page)."""

from __future__ import annotations

import re

from tests.ui.conftest import unescape

# Markdown/HTML control characters not preceded by a backslash: live markup
_LIVE = re.compile(r"(?<!\\)[*<>\[\]()]")


def _page() -> None:
    from shared_utils.errors import CorruptPdf
    from src.ui.errors import show_error

    show_error(
        CorruptPdf(
            "**bold** <img src=x onerror=alert(1)> [x](javascript:alert(1))",
            hint="see [here](javascript:alert(2)) **now**",
        ),
        doing="read it",
    )


def test_error_message_and_hint_are_shown_literally(app_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_page).run()
    error, caption = at.error[0].value, at.caption[0].value
    assert not _LIVE.search(error), error
    assert not _LIVE.search(caption), caption
    # ...and the reader sees exactly the text of the message and the hint
    assert unescape(error) == (
        "Could not read it: **bold** <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    )
    assert unescape(caption) == "How to fix: see [here](javascript:alert(2)) **now**"


def test_a_page_waits_for_the_starting_service_then_says_what_is_wrong(monkeypatch):
    """While the service that owns the stores starts, a page says the library is opening and
    looks again; after the patience runs out it shows the error and its fix."""
    from streamlit.testing.v1 import AppTest

    script = """
import streamlit as st
from shared_utils.errors import ServiceUnavailable
from src.ui.errors import show_error
st.session_state["runs"] = st.session_state.get("runs", 0) + 1
if st.session_state["runs"] < 3:
    show_error(ServiceUnavailable("The Olympus service does not answer."), doing="list documents")
else:
    st.write("library open")
"""
    at = AppTest.from_string(script, default_timeout=30).run()
    assert at.session_state["runs"] == 3  # two reruns while "starting", then the page filled in
    assert [m.value for m in at.markdown] == ["library open"] and not at.error
    import src.ui.errors as errors

    monkeypatch.setattr(errors, "STARTING_PATIENCE_S", -1.0)
    at = AppTest.from_string(script, default_timeout=30).run()
    assert at.session_state["runs"] == 1 and "does not answer" in at.error[0].value
