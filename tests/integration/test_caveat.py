"""The caveat (src/answer/caveat.py): an answer whose question carries a word no source mentions
opens by saying so, before the answer to the rest, on a tiny library of text pages about
installing SystemTap on Linux (the real embedding model and stores)."""

from __future__ import annotations

import io

import pytest

from src.answer.answerer import Answerer
from src.answer.caveat import strip_caveat
from src.cli.ask import _render_stream
from src.events import DoneEvent, TokenEvent
from src.schema.chat import answer_fields
from src.service.wire import done_from_dict, done_to_dict, tool_answer_to_dict
from src.settings import load_settings
from src.ui.transcript import to_markdown
from tests.fixtures.libraries import text_library

PAGES = [
    "The Tracing Toolkit Handbook\nSystemTap Beginners Guide\nInstalling SystemTap. To deploy SystemTap, install the "
    "systemtap and systemtap-runtime packages with yum install systemtap systemtap-runtime. "
    "Then install the kernel debuginfo packages that match the running kernel.",
    "SystemTap Beginners Guide\nThe stap-prep command installs the kernel-devel and debuginfo "
    "packages that SystemTap needs on Linux. Run stap -v -e 'probe vfs.read {exit()}' to test "
    "the installation.",
    "SystemTap Beginners Guide\nA probe handler runs when its event occurs. The begin probe "
    "runs at the start of a session and the end probe when the session ends.",
    "SystemTap Beginners Guide\nThe timer.s(4) event fires every four seconds. Scripts use "
    "global arrays to collect statistics and print them in the end probe.",
]
# other chapters, so that the words of the questions are rare in the library as in a real one
TOPICS = [
    "bread dough rises in a warm kitchen",
    "a bicycle chain needs oil every month",
    "tomato plants want sun and regular water",
    "the river ferry leaves the harbour at noon",
    "a violin string is tuned with its peg",
    "chess openings control the centre of the board",
    "a sailing boat turns by moving its rudder",
    "honey bees collect nectar from flowers",
    "a wool jumper is washed by hand in cold water",
    "the museum opens its doors on weekdays",
]
PAGES += [f"Chapter {i}\n" + f"In this chapter {t}. " * 15 for i, t in enumerate(TOPICS, 5)]
WINDOWS = "How do I install SystemTap on Windows?"
LINUX = "How do I install SystemTap with the systemtap-runtime package?"


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder):
    with text_library(tmp_path_factory, "systemtap-guide.pdf", PAGES) as library:
        yield library


@pytest.fixture(scope="module")
def answerer(library):
    return Answerer.from_settings(load_settings(backends="extractive"), library=library)


def _ask(answerer: Answerer, question: str) -> tuple[list[str], DoneEvent]:
    tokens, done = [], None
    for event in answerer.ask(question):
        if isinstance(event, TokenEvent):
            tokens.append(event.text)
        elif isinstance(event, DoneEvent):
            done = event
    assert done is not None
    return tokens, done


def test_a_word_no_source_mentions_is_said_first_then_the_rest_is_answered(answerer):
    tokens, done = _ask(answerer, WINDOWS)
    assert done.mode != "abstained"
    assert done.unmentioned == ["Windows"]
    first = "None of the sources mentions “Windows”"
    assert tokens[0].startswith(first)  # streamed before anything else
    assert done.answer.startswith(first)
    # the caveat never replaces the answer: the extract about installing follows, cited
    rest = strip_caveat(done.answer)
    assert rest and rest != done.answer and "install" in rest.lower()
    assert done.citations
    assert "".join(tokens).strip() == done.answer.strip()


def test_a_question_whose_every_word_the_sources_hold_gets_no_caveat(answerer):
    tokens, done = _ask(answerer, LINUX)
    assert not any(t.startswith("None of the sources") for t in tokens)
    assert done.unmentioned == []
    assert "None of the sources mentions" not in done.answer
    assert done.citations


def test_a_name_the_document_goes_by_gets_no_caveat(answerer):
    """ "TTH": the initials of the title ("The Tracing Toolkit Handbook"); no passage spells it."""
    _, done = _ask(answerer, "How does the TTH install SystemTap?")
    assert done.mode != "abstained" and done.citations
    assert done.unmentioned == []


def test_the_caveat_reaches_the_cli_the_api_the_saved_chat_and_the_markdown_download(answerer):
    out = io.StringIO()
    _render_stream(answerer.ask(WINDOWS), out)
    printed = out.getvalue()
    caveat_at = printed.index("None of the sources mentions “Windows”")
    assert caveat_at < printed.index("[1]", printed.index("\n\n"))  # before the answer's text

    _, done = _ask(answerer, WINDOWS)
    wire = done_to_dict(done)
    assert wire["unmentioned"] == ["Windows"]
    assert wire["answer"].startswith("None of the sources mentions “Windows”")
    assert done_from_dict(wire).unmentioned == ["Windows"]
    assert tool_answer_to_dict(done, "x")["unmentioned"] == ["Windows"]  # MCP's ask
    message = {"role": "assistant", **answer_fields(done)}
    assert message["unmentioned"] == ["Windows"]
    markdown = to_markdown([{"role": "user", "content": WINDOWS}, message])
    assert "None of the sources mentions “Windows”" in markdown


@pytest.mark.parametrize("evidence_first", [False, True])
def test_a_model_s_answer_is_opened_by_the_caveat_too(library, llamacpp_server, evidence_first):
    """A model writes (the tiny random-weight model on the real llama.cpp engine, allowed to
    write): as written, or behind the evidence as a small model's answer is shown. The caveat
    comes first either way, does not replace the answer, and the stream is the answer."""
    settings = load_settings(
        backends="llamacpp,extractive",
        llamacpp_port=llamacpp_server.port,
        llamacpp_model_path=str(llamacpp_server.model_path),
        tiny_model_answers="model",
        small_model_extract=evidence_first,
        max_answer_tokens=16,
    )
    tokens, done = _ask(Answerer.from_settings(settings, library=library), WINDOWS)
    assert done.backend_name == "llamacpp"
    assert done.unmentioned == ["Windows"]
    assert tokens[0].startswith("None of the sources mentions “Windows”")
    assert done.answer.startswith("None of the sources mentions “Windows”")
    assert strip_caveat(done.answer).strip()  # what the model wrote (or the extract) follows
    if evidence_first:  # the evidence streamed after the caveat, then what the model adds
        assert done.mode.startswith("extract") and "".join(tokens) == done.answer
