"""The optional access password (OLYMPUS_PASSWORD) gates every page."""

from __future__ import annotations

import pytest

from tests.ui.conftest import all_text


@pytest.fixture
def locked(app_env, monkeypatch):
    monkeypatch.setenv("OLYMPUS_PASSWORD", "correct horse")
    return app_env


def test_password_gate_hides_the_app_until_the_right_password(locked, make_app):
    at = make_app()
    assert "This Olympus is protected" in all_text(at)
    assert not at.chat_input, "the chat must not be reachable without the password"

    at.text_input[0].input("wrong horse")
    at.button[0].click().run()
    assert "Wrong password" in all_text(at)
    assert not at.chat_input

    at.text_input[0].input("correct horse")
    at.button[0].click().run()
    assert "This Olympus is protected" not in all_text(at)
    assert at.chat_input, "the chat page shows once unlocked"


def test_no_password_means_no_gate(app_env, make_app):
    at = make_app()
    assert "protected" not in all_text(at)
    assert at.chat_input
