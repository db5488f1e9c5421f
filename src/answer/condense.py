"""Multi-turn: which earlier messages are turns (one rule for the chat page and the OpenAI
route), and trimming them to a token budget.

Whether a question is a follow-up is measured in ``src/answer/follow_up.py`` (retrieval similarity,
not a word list); the prompt gives a follow-up the earlier *questions* only (``src/answer/prompt.py``).

History is a sequence of ``(question, answer)`` pairs, oldest first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Turn = tuple[str, str]
# an answer so marked is not a turn: it failed, was stopped, or is still being written (the
# chat page records these; an OpenAI request's messages carry none of them)
UNFINISHED = ("error", "stopped", "streaming")


def turns_of(messages: Sequence[Mapping[str, Any]]) -> list[Turn]:
    """(question, answer) pairs of ``messages`` (dicts with ``role`` and text ``content``),
    oldest first: a user message directly followed by an assistant one (other roles left out),
    both with text, the answer finished, and an answer to a question (a canned reply, such as
    "no documents yet", has an empty ``question``).

    >>> turns_of([{"role": "user", "content": "a?"}, {"role": "system", "content": "be brief"},
    ...           {"role": "assistant", "content": "A"}, {"role": "user", "content": "b?"},
    ...           {"role": "assistant", "content": "B", "stopped": True}])
    [('a?', 'A')]
    """
    talk = [m for m in messages if m.get("role") in ("user", "assistant")]
    return [
        (q["content"], a["content"])
        for q, a in itertools.pairwise(talk)
        if q["role"] == "user"
        and a["role"] == "assistant"
        and q["content"].strip()
        and a["content"].strip()
        and not any(a.get(flag) for flag in UNFINISHED)
        and a.get("question", True)
    ]


def trim_history(
    history: Sequence[Turn],
    budget_tokens: int,
    count_tokens: Callable[[str], int],
    *,
    max_answer_tokens: int = 120,
) -> list[Turn]:
    """The newest turns that fit ``budget_tokens`` (oldest dropped first), each answer cut to
    about ``max_answer_tokens``. Returns [] when not even the last question fits.

    >>> trim_history([("q1", "a1"), ("q2", "a2")], 4, lambda s: len(s.split()) * 2)
    [('q2', 'a2')]
    """
    kept: list[Turn] = []
    used = 0
    for question, answer in reversed(history):
        answer = _shorten(answer, max_answer_tokens, count_tokens)
        cost = count_tokens(question) + count_tokens(answer)
        if used + cost > budget_tokens:
            break
        kept.append((question, answer))
        used += cost
    kept.reverse()
    return kept


def _shorten(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> str:
    if count_tokens(text) <= max_tokens:
        return text
    pieces = text.split()
    lo, hi = 0, len(pieces)
    while lo < hi:  # the longest word prefix that fits, by bisection
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(pieces[:mid]) + " ...") <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(pieces[:lo]) + " ..."
