"""Chats that last (AppTest on the real app): saved per browser, reopened by a new session,
several chats in the sidebar (new, switch, rename, delete, search), settings per chat that
reach the answer, and a limit that says what to do."""

from __future__ import annotations

import re
import socket

import pytest

from tests.fixtures.pdfs import make_text_pdf
from tests.ui.conftest import all_text, unescape
from tests.ui.test_chat import FLUX

CALIBRATION = "How often must the flux capacitor be calibrated?"
FUSION = "What household waste does the Mr. Fusion reactor accept?"


@pytest.fixture(autouse=True)
def _browser(monkeypatch):
    """The front's stable browser id (a signed cookie in real use)."""
    monkeypatch.setattr("src.ui.identity.browser_id", lambda: "browser-under-test")
    monkeypatch.setenv("OLYMPUS_CHUNK_TOKENS", "64")
    monkeypatch.setenv("OLYMPUS_CHUNK_OVERLAP_TOKENS", "8")


@pytest.fixture
def flux(app_env, embedder):
    from src.ui import state

    state.pipeline().ingest_bytes(make_text_pdf(FLUX), "flux.pdf")


def _ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def _questions(at) -> list[str]:
    return [m.value for msg in at.chat_message if msg.name == "user" for m in msg.markdown]


def _sidebar_chats(at) -> list[str]:
    """Titles of the chats listed in the sidebar (without the time each label ends with)."""
    return [
        unescape(re.sub(r" :small\[[^\]]*\]$", "", b.label))
        for b in at.sidebar.button
        if b.key.startswith("chat_open_")
    ]


def test_a_chat_survives_a_new_session_of_the_same_browser(flux, make_app, data_dir):
    _ask(make_app(), CALIBRATION)
    files = list((data_dir / "chats").rglob("*.json"))
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"
    again = make_app()  # a reload or a restart: a new session, the same browser
    assert _questions(again) == [CALIBRATION]
    assert "88 days" in "\n".join(m.value for m in again.chat_message[-1].markdown)
    assert _sidebar_chats(again) == [CALIBRATION]


def test_two_chats_on_the_same_question_get_distinct_titles(flux, make_app):
    """The same first question twice: the newer chat is numbered, in the list and in a
    search; each entry says when it was last used in its label (no tooltip over the entry
    above it)."""
    at = _ask(make_app(), CALIBRATION)
    at.sidebar.button(key="chat_new").click().run()
    _ask(at, CALIBRATION)
    assert _sidebar_chats(at) == [f"{CALIBRATION} (2)", CALIBRATION]
    at.sidebar.text_input(key="chat_list_search").set_value("flux capacitor").run()
    assert _sidebar_chats(at) == [f"{CALIBRATION} (2)", CALIBRATION]
    entries = [b for b in at.sidebar.button if b.key.startswith("chat_open_")]
    assert all(not b.help for b in entries)
    assert all(re.search(r":small\[· \d\d:\d\d\]$", b.label) for b in entries)


def test_new_chat_switch_rename_search_and_delete(flux, make_app):
    at = _ask(make_app(), CALIBRATION)
    at.sidebar.button(key="chat_new").click().run()
    assert len(at.chat_message) == 0
    _ask(at, FUSION)
    assert _sidebar_chats(at) == [FUSION, CALIBRATION], "newest first"
    first_id = at.session_state["chat_current"]["id"]
    other = next(b for b in at.sidebar.button if b.label.startswith(CALIBRATION.rstrip("?")))
    other.click().run()
    assert _questions(at) == [CALIBRATION], "switching shows the other conversation"
    current = at.session_state["chat_current"]["id"]
    at.sidebar.text_input(key=f"chat_title_{current}").set_value("Calibration")
    save = next(b for b in at.sidebar.button if b.label == "Save")  # the rename form's button
    save.click().run()
    assert "Calibration" in _sidebar_chats(at)
    at.sidebar.text_input(key="chat_list_search").set_value("banana").run()
    assert _sidebar_chats(at) == [FUSION], "the answers are searched"
    at.sidebar.text_input(key="chat_list_search").set_value("").run()
    at.sidebar.button(key=f"chat_open_{first_id}").click().run()
    at.sidebar.checkbox(key=f"chat_delete_ok_{first_id}").check().run()
    at.sidebar.button(key=f"chat_delete_{first_id}").click().run()
    assert _sidebar_chats(at) == ["Calibration"] and len(at.chat_message) == 0
    assert _sidebar_chats(make_app()) == ["Calibration"], "the deletion is on disk"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_settings_are_kept_per_chat_and_reach_the_answer(app_env, embedder, make_app, monkeypatch):
    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,extractive")
    monkeypatch.setenv("OLYMPUS_LLAMACPP_PORT", str(_closed_port()))
    monkeypatch.setenv("OLYMPUS_CONNECT_TIMEOUT_S", "1")
    from src.ui import state

    state.pipeline().ingest_bytes(make_text_pdf(FLUX), "flux.pdf")
    at = make_app()
    cid = at.session_state["chat_current"]["id"]
    models = at.selectbox(key=f"chat_model_{cid}")
    assert models.options[0].endswith(("★ recommended for this machine", "(this server's default)"))
    assert models.options[-1] == "Source extracts only (no model)"
    models.set_value("extractive").run()
    at.slider(key=f"chat_temp_{cid}").set_value(0.7).run()
    _ask(at, CALIBRATION)
    msg = at.session_state["chat_current"]["messages"][-1]
    assert msg["chain"] == ["extractive"] and not msg["skipped"], "the chat's choice answered"
    again = make_app()
    settings = again.session_state["chat_current"]["settings"]
    assert settings["model"] == "extractive" and settings["temperature"] == 0.7
    again.sidebar.button(key="chat_new").click().run()
    _ask(again, FUSION)
    assert again.session_state["chat_current"]["settings"]["model"] == "extractive", (
        "a new chat starts with the settings of the chat it was opened from"
    )


def test_past_the_chat_limit_the_answer_stays_and_the_page_says_what_to_do(
    flux, make_app, monkeypatch
):
    monkeypatch.setenv("OLYMPUS_MAX_CHATS", "1")
    from src.ui import state

    state.reset()
    at = _ask(make_app(), CALIBRATION)
    at.sidebar.button(key="chat_new").click().run()
    _ask(at, FUSION)
    assert len(at.chat_message) == 2, "the answer is shown"
    text = all_text(at)
    assert "OLYMPUS_MAX_CHATS" in text and "Delete chats you no longer need" in text
    assert _sidebar_chats(make_app()) == [CALIBRATION], "the saved chat is untouched"
