"""The CLI prints the answer the UI and the API show: when the checked answer is not the streamed
text continued (a sentence struck by the claim check), it follows what streamed."""

from __future__ import annotations

import io

from src.cli.ask import CHECKED, _render_stream
from src.events import DoneEvent, StatusEvent, TokenEvent

STREAMED = "Upsd listens on port 3493 [1]."


def _printed(answer: str, streamed: list | None = None, mode: str = "") -> str:
    out = io.StringIO()
    done = DoneEvent(
        answer=answer,
        backend="llama.cpp (local)",
        citations=[],
        sources=[],
        timings={"total_ms": 10.0},
        answered_by="qwen",
        model="qwen",
        mode=mode,
    )
    _render_stream([*(streamed or [TokenEvent(STREAMED)]), done], out)
    return out.getvalue()


def test_an_answer_that_continues_the_stream_is_printed_once():
    text = _printed(STREAMED + "\n\nThe most relevant sentences of the sources:\n- s [1]")
    assert text.count(STREAMED) == 1 and "- s [1]" in text and CHECKED not in text


def test_a_checked_answer_unlike_the_stream_is_printed_after_it():
    evidence_first = (
        "The most relevant sentences of the sources:\n- The upsd daemon listens "
        "on TCP port 3493 by default. [1]"
    )
    text = _printed(evidence_first)
    assert text.index(STREAMED) < text.index(CHECKED) < text.index(evidence_first)


def test_a_small_models_evidence_first_answer_is_printed_once_as_it_streamed():
    evidence = "The most relevant sentences of the sources:\n- Upsd uses port 3493. [1]"
    adds = "\n\nWhat qwen adds, where a source supports it:\n\nIt reads ups.conf [1]."
    streamed = [TokenEvent(evidence), StatusEvent("checking what qwen adds"), TokenEvent(adds)]
    text = _printed(evidence + adds, streamed, mode="extract+model")
    assert text.startswith(evidence + adds) and text.count("3493") == 1 and CHECKED not in text
