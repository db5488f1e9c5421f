"""The chat page when every engine slot is busy and the line is full: the person is told at
once, in words, and nothing else breaks (the UI reaches the service, as startup.py runs it)."""

from __future__ import annotations

import pytest

from src.ui import state
from tests.api.conftest import QUESTION
from tests.ui.conftest import all_text, make_app  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def test_a_full_line_is_a_clear_message_in_the_chat(service, monkeypatch, make_app):
    monkeypatch.setenv("OLYMPUS_DATA_DIR", str(service.data_dir))
    monkeypatch.setenv("OLYMPUS_SERVICE_URL", service.url)
    monkeypatch.setenv("OLYMPUS_SERVICE_TOKEN", service.token)
    state.reset()
    line = service.pipeline._answerer.queue
    held = [line.enter(f"other-{i}") for i in range(line.slots + line.max_waiting)]
    try:
        at = make_app()
        at.chat_input[0].set_value(QUESTION).run()
        assert not at.exception
        answer = at.session_state["chat_current"]["messages"][-1]
        assert answer["error"].startswith("Too many questions at once"), answer
        assert "Ask again in about" in answer["hint"]
        assert "Too many questions at once" in all_text(at)
    finally:
        for ticket in held:
            ticket.release()
        state.reset()
