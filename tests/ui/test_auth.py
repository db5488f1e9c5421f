"""The sign-in gate as the Streamlit script applies it (the form itself is the front's:
tests/front/test_front.py signs in through it)."""

from __future__ import annotations

import pytest

from tests.ui.conftest import all_text


@pytest.fixture
def locked(app_env, monkeypatch):
    monkeypatch.setenv("OLYMPUS_PASSWORD", "correct horse")
    return app_env


def test_without_the_signed_cookie_a_run_shows_only_the_sign_in_link(locked, make_app):
    at = make_app()  # AppTest sends no cookies: like a session id reused without the cookie
    assert "This Olympus is protected" in all_text(at)
    assert not at.chat_input, "the chat must not be reachable without signing in"
    links = " ".join(str(h.proto.body) for h in at.get("html"))
    assert 'href="/_olympus/login?next=/"' in links
    at.switch_page("src/ui/pages/documents.py").run()
    assert "This Olympus is protected" in all_text(at) and not at.file_uploader


def test_no_password_means_no_gate(app_env, make_app):
    at = make_app()
    assert "protected" not in all_text(at)
    assert at.chat_input
