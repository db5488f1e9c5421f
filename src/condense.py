"""Multi-turn: make a follow-up question standalone for retrieval, and trim history.

An extra LLM call to rewrite the question costs seconds on a CPU, so the default is cheap:
when a question looks like a follow-up (short, or leaning on a pronoun such as "its" or
"what about"), the key terms of the previous question are added to the *retrieval* query.
The model still sees the original question plus the trimmed history.

History is a sequence of ``(question, answer)`` pairs, oldest first.

>>> condense("what about its default?", [("How do I set the upsd port?", "Use LISTEN.")])
'what about its default? set upsd port'
>>> condense("How do I install SystemTap on Fedora?", [("What is upsd?", "A daemon.")])
'How do I install SystemTap on Fedora?'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shared_utils.generation.sentences import question_terms, words

Turn = tuple[str, str]

ANAPHORA = frozenset(
    "it its it's they them their theirs this that these those he she his her him there such "
    "one ones same former latter above".split()
)
FOLLOW_UP_OPENERS = ("what about", "how about", "and ", "also", "what else", "why", "then")
SHORT_QUESTION_TERMS = 3
MAX_ADDED_TERMS = 8


def is_follow_up(question: str) -> bool:
    """A question that likely leans on the previous turn.

    >>> is_follow_up("And on Debian?"), is_follow_up("How do I write a SystemTap probe?")
    (True, False)
    """
    q = question.strip().lower()
    if q.startswith(FOLLOW_UP_OPENERS):
        return True
    if any(w in ANAPHORA for w in words(q)):
        return True
    return len(question_terms(q)) <= SHORT_QUESTION_TERMS - 1


def condense(question: str, history: Sequence[Turn], *, max_terms: int = MAX_ADDED_TERMS) -> str:
    """The retrieval query: the question, plus the previous question's key terms when the
    question is a follow-up. Terms come from the newest earlier question first."""
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    have = question_terms(question)
    added: list[str] = []
    for previous, _answer in reversed(history):
        for term in _ordered_terms(previous):
            if term not in have and term not in added:
                added.append(term)
        if added:
            break  # the newest question that has content terms is enough
    added = added[:max_terms]
    return f"{question} {' '.join(added)}" if added else question


def _ordered_terms(text: str) -> list[str]:
    terms = question_terms(text)
    return list(dict.fromkeys(w for w in words(text) if w in terms))


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
