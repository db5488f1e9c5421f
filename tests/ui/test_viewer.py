"""Chat page: every source has a "Show page" button, the answer's claims are checked against
their passages, and a supported claim opens the page viewer on the page that holds it."""

from __future__ import annotations

import pytest

from tests.ui.test_chat import FLUX, _ask, _ingest


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    monkeypatch.setenv("OLYMPUS_CHUNK_TOKENS", "64")
    monkeypatch.setenv("OLYMPUS_CHUNK_OVERLAP_TOKENS", "8")


def test_a_supported_claim_opens_the_page_that_holds_it(app_env, make_app, embedder):
    doc_id = _ingest("flux.pdf", FLUX)
    at = make_app()
    _ask(at, "How often must the flux capacitor be calibrated?")
    assert not at.exception
    answer = at.chat_message[-1]
    checked = [e for e in answer.expander if e.label.startswith("Claims checked")]
    assert checked, "the answer's claims are checked"
    assert " of " in checked[0].label and "supported" in checked[0].label
    show = [b for b in answer.button if b.key.startswith("view_1_")]
    assert show and show[0].label.startswith("Show p"), "each source can be shown on its page"

    claim_buttons = [b for b in checked[0].button if b.key.startswith("claim_1_")]
    assert claim_buttons, "a supported claim links to its highlight"
    claim_buttons[0].click().run()
    target = at.session_state["viewer_target"]
    assert target["doc_id"] == doc_id and "88 days" in target["claim"]
    assert target["first"] <= 2 <= target["last"]
    assert not at.exception


def test_the_claims_shown_are_the_ones_the_answer_arrived_with(app_env, make_app, embedder):
    """The server checks the claims once; the page shows what the done event carried and does
    not check them again on a rerun (a changed record shows up as it is)."""
    _ingest("flux.pdf", FLUX)
    at = make_app()
    _ask(at, "How often must the flux capacitor be calibrated?")
    msg = at.session_state["chat_current"]["messages"][-1]
    assert msg["claims"] and {c["status"] for c in msg["claims"]} <= {
        "supported",
        "unverified",
        "contradicted",
        "miscited",
        "uncited",
    }
    msg["claims"] = [{**msg["claims"][0], "status": "uncited", "best": None}]
    at.run()
    checked = [e for e in at.chat_message[-1].expander if e.label.startswith("Claims checked")]
    assert checked[0].label.startswith("Claims checked: 0 of 1 claims supported")


def test_show_page_opens_the_viewer_on_the_source(app_env, make_app, embedder):
    _ingest("flux.pdf", FLUX)
    at = make_app()
    _ask(at, "How often must the flux capacitor be calibrated?")
    at.button(key="view_1_1").click().run()
    target = at.session_state["viewer_target"]
    source = at.session_state["chat_current"]["messages"][-1]["sources"][0].chunk
    assert (target["first"], target["last"]) == (source.page_start, source.page_end)
    assert target["passage"] == source.text
    assert not at.exception
