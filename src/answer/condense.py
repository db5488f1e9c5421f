"""Multi-turn: trim the earlier turns to a token budget.

Whether a question is a follow-up is measured in ``src/answer/follow_up.py`` (retrieval similarity,
not a word list); the prompt gives a follow-up the earlier *questions* only (``src/answer/prompt.py``).

History is a sequence of ``(question, answer)`` pairs, oldest first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Turn = tuple[str, str]


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
