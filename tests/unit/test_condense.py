"""Follow-up questions become standalone retrieval queries; history is trimmed to a budget."""

from __future__ import annotations

from src.condense import condense, is_follow_up, trim_history

HISTORY = [("How do I configure the upsmon shutdown command?", "Set SHUTDOWNCMD [1].")]


def test_pronoun_follow_up_gets_the_previous_key_terms():
    query = condense("What is its default value?", HISTORY)
    assert query.startswith("What is its default value?")
    for term in ("upsmon", "shutdown", "command"):
        assert term in query


def test_short_follow_up_without_pronoun():
    assert "upsmon" in condense("And on Windows?", HISTORY)


def test_standalone_question_is_left_alone():
    q = "Which TCP port does upsd listen on for network clients?"
    assert condense(q, HISTORY) == q
    assert not is_follow_up(q)


def test_no_history_no_change():
    assert condense("what about its default?", []) == "what about its default?"


def test_newest_turn_with_content_terms_wins():
    history = [("How do I install SystemTap?", "..."), ("What does upsd do?", "...")]
    query = condense("Does it need root?", history)
    assert "upsd" in query and "systemtap" not in query.lower()


def test_trim_history_keeps_newest_turns_within_budget():
    history = [(f"question {i}", "answer " * 50) for i in range(10)]
    count = lambda s: len(s.split())  # noqa: E731
    kept = trim_history(history, 60, count, max_answer_tokens=20)
    assert kept and kept[-1][0] == "question 9"
    assert sum(count(q) + count(a) for q, a in kept) <= 60
    assert all(a.endswith("...") and count(a) <= 20 for _, a in kept)
    assert trim_history(history, 1, count) == []
