"""Chat page: no-documents hint, sources then a cited answer, fallback badge, escaping,
regenerate, clear, download, scope."""

from __future__ import annotations

import socket

import pytest

from src.chat_store import new_chat
from tests.fixtures.pdfs import SAMPLE_PAGES, make_text_pdf
from tests.ui.conftest import all_text

FILLER = {
    1: "The time circuits show the destination time, the present time and the last time "
    "departed. Each display uses red, green and amber digits that the driver can read.",
    2: "Service staff must log every maintenance visit in the garage book, together with the "
    "odometer reading, the date and the name of the person who did the work.",
    3: "The reactor accepts banana peels, beer cans and other household waste, and needs no "
    "plutonium once it is installed on the rear of the vehicle.",
}
FLUX = [
    "Flux Capacitor Service Manual\nChapter 1 describes the time circuits and their display. "
    + FILLER[1] * 2,
    "Flux Capacitor Service Manual\nMaintenance: the flux capacitor calibration interval is "
    "88 days. Calibrate it with the plutonium chamber closed. " + FILLER[2] * 2,
    "Flux Capacitor Service Manual\nChapter 3 covers the Mr. Fusion home energy reactor. "
    + FILLER[3] * 2,
]


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    """Passages of about one page, so a citation can name the right page."""
    monkeypatch.setenv("OLYMPUS_CHUNK_TOKENS", "64")
    monkeypatch.setenv("OLYMPUS_CHUNK_OVERLAP_TOKENS", "8")


def _ingest(name: str, pages: list[str]) -> str:
    from src.ui import state

    result = state.pipeline().ingest_bytes(make_text_pdf(pages), name)
    return result.doc.id


def _ask(at, question: str):
    at.chat_input[0].set_value(question).run()
    return at


def _history(at) -> list[dict]:
    return at.session_state["chat_current"]["messages"]


def _answer_markdown(at) -> str:
    return "\n".join(m.value for m in at.chat_message[-1].markdown)


def test_without_documents_the_chat_says_how_to_add_one(app_env, make_app):
    at = make_app()
    assert "No document is indexed yet" in all_text(at)
    _ask(at, "What is in my files?")
    assert len(at.chat_message) == 2
    assert "Documents" in _answer_markdown(at)
    assert not at.exception


def test_question_gets_sources_and_a_cited_answer(app_env, make_app, embedder):
    _ingest("flux.pdf", FLUX)
    at = make_app()
    assert "No document is indexed yet" not in all_text(at)
    _ask(at, "How often must the flux capacitor be calibrated?")
    assert not at.exception
    answer = at.chat_message[-1]
    text = _answer_markdown(at)
    assert "88 days" in text
    assert "](#src-1-" in text, "citations link to the sources panel"
    expander = answer.expander[0]
    assert expander.label.startswith("Sources (")
    sources = "\n".join(m.value for m in expander.markdown)
    assert "flux.pdf" in sources and "p. 2" in sources
    assert ":orange-background[calibrated]" in sources or ":orange-background[flux]" in sources
    assert 'id="src-1-1"' in sources, "anchors for the citation links"
    captions = "\n".join(c.value for c in answer.caption)
    assert (
        "Answered by **source extracts \\(no language model in the backend chain\\)**" in captions
    )
    from src.ui import state

    assert state.timings().records()[0].backend.startswith("extractive")
    # the conversation downloads as Markdown, with its sources
    assert at.download_button, "a download button for the conversation"
    from src.ui import transcript

    md = transcript.to_markdown(_history(at))
    assert "How often must the flux capacitor be calibrated?" in md and "flux.pdf, p. 2" in md
    quoted = [ln for ln in md.split("Sources:")[1].splitlines() if ln.lstrip().startswith(">")]
    assert any("88 days" in ln for ln in quoted), "the cited passages are quoted"
    assert "· score" not in sources and "▰" in sources, "a bar, the number only on hover"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fallback_badge_names_the_backend_and_the_reason(app_env, make_app, embedder, monkeypatch):
    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,extractive")
    monkeypatch.setenv("OLYMPUS_LLAMACPP_PORT", str(_closed_port()))
    monkeypatch.setenv("OLYMPUS_OPENAI_BASE_URL", f"http://127.0.0.1:{_closed_port()}/v1")
    monkeypatch.setenv("OLYMPUS_CONNECT_TIMEOUT_S", "1")
    _ingest("flux.pdf", FLUX)
    at = make_app()
    _ask(at, "How often must the flux capacitor be calibrated?")
    text = _answer_markdown(at)
    assert "Fallback" in text, "a badge says a fallback backend answered"
    captions = "\n".join(c.value for c in at.chat_message[-1].caption)
    assert "llamacpp" in captions, "the reason names the backend that failed"


def test_document_text_is_shown_as_text_not_html_or_markdown(app_env, make_app, embedder):
    _ingest("sample.pdf", SAMPLE_PAGES)
    at = make_app()
    _ask(at, "What must the parser show as plain text?")
    sources = "\n".join(m.value for m in at.chat_message[-1].expander[0].markdown)
    assert "\\<script\\>" in sources, "the tag is escaped"
    assert "<script>" not in sources
    assert "[the docs](" not in sources and "\\[the docs\\]\\(" in sources
    # the only raw HTML on the page is our own anchors and relevance bars
    for m in at.markdown:
        if m.proto.allow_html:
            assert "script" not in m.value.replace("\\<script\\>", "")
            assert m.value.startswith('<div id="src-') or 'class="olympus-relevance"' in m.value


def test_regenerate_replaces_the_answer_and_new_chat_empties_the_page(app_env, make_app, embedder):
    _ingest("flux.pdf", FLUX)
    at = make_app()
    _ask(at, "How often must the flux capacitor be calibrated?")
    assert len(at.chat_message) == 2
    at.button(key="regenerate_1").click().run()
    assert len(at.chat_message) == 2, "regenerate re-asks instead of adding a turn"
    assert "88 days" in _answer_markdown(at)
    _ask(at, "What does chapter 3 cover?")
    assert len(at.chat_message) == 4
    at.button(key="chat_new_below").click().run()
    assert len(at.chat_message) == 0


def test_scope_limits_answers_to_the_chosen_document(app_env, make_app, embedder):
    _ingest("flux.pdf", FLUX)
    other = _ingest("other.pdf", ["The lawn mower blade must be sharpened every 25 hours."])
    at = make_app()
    at.multiselect(key="chat_scope").set_value([other]).run()
    _ask(at, "How often must the flux capacitor be calibrated?")
    sources = "\n".join(m.value for m in at.chat_message[-1].expander[0].markdown)
    assert "other.pdf" in sources and "flux.pdf" not in sources
    captions = all_text(at)
    assert "best match for this question is in flux.pdf" in captions, "the scope is named"
    at.multiselect(key="chat_scope").set_value([]).run()
    _ask(at, "How often must the flux capacitor be calibrated?")
    last = "\n".join(c.value for c in at.chat_message[-1].caption)
    assert "outside the documents chosen" not in last, "no note when nothing is excluded"


def test_answer_streams_from_a_real_llamacpp_engine(
    app_env, make_app, embedder, llamacpp_server, monkeypatch
):
    """The tiny random-weight model writes nonsense, but through the real engine and stream."""
    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,extractive")
    monkeypatch.setenv("OLYMPUS_LLAMACPP_PORT", str(llamacpp_server.port))
    monkeypatch.setenv("OLYMPUS_MAX_ANSWER_TOKENS", "24")
    monkeypatch.setenv("OLYMPUS_TINY_MODEL_ANSWERS", "model")  # the tiny test model writes
    _ingest("flux.pdf", FLUX)
    at = make_app()
    _ask(at, "How often must the flux capacitor be calibrated?")
    assert not at.exception
    msg = _history(at)[-1]
    assert msg["backend_name"] == "llamacpp", msg.get("switches")
    assert msg["content"].strip(), "the engine's tokens were shown"
    captions = "\n".join(c.value for c in at.chat_message[-1].caption)
    assert "tokens/s" in captions and "first token" in captions
    # a small model: its evidence is shown before the engine is asked, sooner than its first token
    assert "first text" in captions
    assert "Fallback" not in _answer_markdown(at)


def test_an_interrupted_answer_is_kept_marked_stopped_and_can_be_regenerated(app_env, make_app):
    """What the next run shows after Stop (or a new question) cut a streaming answer."""
    at = make_app()
    at.session_state["chat_current"] = {
        **new_chat(),
        "messages": [
            {"role": "user", "content": "How often?"},
            {
                "role": "assistant",
                "content": "The interval is",
                "question": "How often?",
                "sources": [],
                "switches": [],
                "skipped": {},
                "backend": "",
                "timings": {},
                "streaming": True,
            },
        ],
    }
    at.run()
    assert "The interval is" in _answer_markdown(at)
    assert any("Stopped" in c.value for c in at.chat_message[-1].caption)
    assert at.button(key="regenerate_1")
    # and it is saved: a reload (a new session of this browser) still has the exchange
    from src.chat_store import _decode
    from src.ui.chat_list import SESSION_CHATS

    saved = [_decode(raw) for raw in at.session_state[SESSION_CHATS].values()]
    assert [m.get("stopped") for m in saved[0]["messages"]] == [None, True]
    assert saved[0]["messages"][1]["content"] == "The interval is"


def test_two_sessions_share_one_pipeline_and_keep_their_own_history(app_env, make_app, embedder):
    """Two browser sessions: one pipeline per process, one chat history per session."""
    from src.ui import state

    _ingest("flux.pdf", FLUX)
    first, second = make_app(), make_app()
    questions = [
        "How often must the flux capacitor be calibrated?",
        "What household waste does the Mr. Fusion reactor accept?",
    ]
    for at, question in zip([first, second], questions, strict=True):
        _ask(at, question)
    for at, question in zip([first, second], questions, strict=True):
        assert not at.exception
        history = _history(at)
        assert [m["content"] for m in history if m["role"] == "user"] == [question]
        assert history[-1]["backend_name"] == "extractive"
    assert state.pipeline() is state.pipeline(), "created once per process"


def test_a_tiny_model_answer_says_the_extract_is_shown_and_why(
    app_env, make_app, embedder, monkeypatch
):
    monkeypatch.setenv("OLYMPUS_BACKENDS", "llamacpp,hf_inference,extractive")
    monkeypatch.delenv("HF_TOKEN", raising=False)  # so hf_inference is skipped
    monkeypatch.setenv("OLYMPUS_LLAMACPP_PORT", str(_closed_port()))
    monkeypatch.setenv("OLYMPUS_LLAMACPP_MODEL_PATH", "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    _ingest("flux.pdf", FLUX)
    at = make_app()
    _ask(at, "How often must the flux capacitor be calibrated?")
    assert not at.exception
    assert "88 days" in _answer_markdown(at)
    captions = "\n".join(c.value for c in at.chat_message[-1].caption)
    assert "135M parameters" in captions and "extract is shown instead" in captions
    # the extract was chosen, not fallen back to: no fallback badge, no skip reasons
    badges = " ".join(m.value for m in at.chat_message[-1].markdown)
    assert "Fallback" not in badges and "hf_inference skipped" not in captions


def _flux_answer(make_app, question: str):
    """The Chat page after ``question`` over the flux manual, and its answer as Markdown."""
    _ingest("flux.pdf", FLUX)
    at = _ask(make_app(), question)
    assert not at.exception
    return at, _answer_markdown(at)


def test_a_question_the_documents_do_not_answer_is_refused(app_env, make_app, embedder):
    at, text = _flux_answer(make_app, "Who won the 2018 FIFA World Cup?")
    assert "do not seem to answer" in text and "Who won the 2018 FIFA World Cup?" in text
    captions = "\n".join(c.value for c in at.chat_message[-1].caption)
    assert "Not answered from the documents: no model was asked" in captions
    assert "Answered by" not in captions
    # a refusal makes no claim, so there is no claim check under it
    assert not any("Claims checked" in e.label for e in at.chat_message[-1].expander)


def test_a_word_no_source_mentions_is_said_before_the_answer(app_env, make_app, embedder):
    at, text = _flux_answer(make_app, "What is the flux capacitor calibration interval on Mars?")
    assert text.startswith("None of the sources mentions “Mars”"), text
    assert "88 days" in text, "the answer to the rest follows the caveat"
    assert _history(at)[-1]["unmentioned"] == ["Mars"]


def test_a_page_is_one_entry_in_sources_and_every_citation_still_lands(app_env, make_app, embedder):
    """Page 2 holds several passages: Sources lists the page once ("[1, 3] flux.pdf · p. 2")
    with each passage under its own number; every [n] of the answer has its anchor; the
    relevance words and bars are the app's absolute scale."""
    import re

    from src.answer.abstention import relevance, threshold_for
    from src.ui import state

    long_page = (
        FLUX[1]
        + " "
        + " ".join(
            f"Step {n}: check the flux capacitor housing seal number {n} for wear."
            for n in range(1, 9)
        )
    )
    _ingest("flux.pdf", [FLUX[0], long_page, FLUX[2]])
    at = make_app()
    _ask(at, "How often must the flux capacitor be calibrated and checked?")
    assert not at.exception
    sources = _history(at)[-1]["sources"]
    spans = [(s.chunk.doc_id, s.chunk.page_start, s.chunk.page_end) for s in sources]
    assert len(set(spans)) < len(spans), "precondition: a page holds two of the sources"
    panel = at.chat_message[-1].expander[0]
    headers = [m.value for m in panel.markdown if 'class="olympus-relevance"' in m.value]
    assert len(headers) == len(set(spans)), "one entry per page"
    numbers = [
        int(n) for h in headers for n in re.match(r"\*\*\\\[([\d, ]+)\\\]", h).group(1).split(", ")
    ]
    assert sorted(numbers) == list(range(1, len(sources) + 1)), "every number once"
    for h in headers:  # an entry's numbers are sources of that one page
        group = [int(n) - 1 for n in re.match(r"\*\*\\\[([\d, ]+)\\\]", h).group(1).split(", ")]
        assert len({spans[i] for i in group}) == 1
    anchors = "".join(m.value for m in panel.markdown if m.proto.allow_html)
    for n in range(1, len(sources) + 1):
        assert f'id="src-1-{n}"' in anchors
    threshold = threshold_for(state.settings().embedding_model)
    for h in headers:
        group = [int(n) - 1 for n in re.match(r"\*\*\\\[([\d, ]+)\\\]", h).group(1).split(", ")]
        best = max(
            (sources[i].similarity for i in group if sources[i].similarity is not None),
            default=None,
        )
        cells, words = relevance(best, threshold)
        assert ("▰" * cells + "▱" * (5 - cells) if best is not None else "") + (
            " " if best is not None and words else ""
        ) + words in h
