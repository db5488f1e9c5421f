"""History is trimmed to a budget, newest turns first (follow-ups: tests/unit/test_follow_up.py)."""

from __future__ import annotations

from src.answer.condense import trim_history


def test_trim_history_keeps_newest_turns_within_budget():
    history = [(f"question {i}", "answer " * 50) for i in range(10)]
    count = lambda s: len(s.split())  # noqa: E731
    kept = trim_history(history, 60, count, max_answer_tokens=20)
    assert kept and kept[-1][0] == "question 9"
    assert sum(count(q) + count(a) for q, a in kept) <= 60
    assert all(a.endswith("...") and count(a) <= 20 for _, a in kept)
    assert trim_history(history, 1, count) == []
