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


def test_the_chat_page_and_the_openai_route_read_history_by_one_rule():
    from src.answer.condense import turns_of
    from src.schema.chat_completion import split_messages

    talk = [
        ("user", "What port?"),
        ("assistant", "3493 [1]."),
        ("user", "And the user?"),
        ("assistant", "nut [2]."),
        ("user", "Which file?"),
    ]
    openai = [{"role": r, "content": c} for r, c in talk]
    openai.insert(0, {"role": "system", "content": "Be brief."})
    question, history = split_messages(openai)
    # the chat page's saved messages of the same talk (answers know their question)
    page = [
        {"role": r, "content": c, **({"question": talk[i - 1][1]} if r == "assistant" else {})}
        for i, (r, c) in enumerate(talk)
    ]
    assert question == "Which file?"
    assert (
        history
        == turns_of(page[:-1])
        == [("What port?", "3493 [1]."), ("And the user?", "nut [2].")]
    )


def test_unfinished_and_canned_answers_are_no_turns():
    from src.answer.condense import turns_of

    def turn(answer: dict) -> list:
        return turns_of(
            [
                {"role": "user", "content": "q?"},
                {"role": "assistant", "content": "some text", **answer},
            ]
        )

    assert turn({}) == [("q?", "some text")]
    for flag in ("error", "stopped", "streaming"):
        assert turn({flag: True}) == [], flag
    assert turn({"question": ""}) == []  # "add documents first": no question was answered
    assert turn({"content": "  "}) == []
