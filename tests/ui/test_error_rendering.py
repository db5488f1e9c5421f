"""Error messages and hints are shown as literal text, never Markdown/HTML (finding 9)."""

from __future__ import annotations

import re

from tests.ui.conftest import unescape

# Markdown/HTML control characters not preceded by a backslash: live markup
_LIVE = re.compile(r"(?<!\\)[*<>\[\]()]")


def _page() -> None:
    from shared_utils.errors import CorruptPdf
    from src.ui.errors import show_error

    show_error(CorruptPdf("**bold** <img src=x onerror=alert(1)> [x](javascript:alert(1))",
                          hint="see [here](javascript:alert(2)) **now**"), doing="read it")


def test_error_message_and_hint_are_shown_literally(app_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_page).run()
    error, caption = at.error[0].value, at.caption[0].value
    assert not _LIVE.search(error), error
    assert not _LIVE.search(caption), caption
    # ...and the reader sees exactly the text of the message and the hint
    assert unescape(error) == ("Could not read it: **bold** <img src=x onerror=alert(1)> "
                               "[x](javascript:alert(1))")
    assert unescape(caption) == "How to fix: see [here](javascript:alert(2)) **now**"
