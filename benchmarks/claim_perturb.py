"""Wrong claims made from right ones: a stress test of the claim check's ✓ on dev.

The dev pairs hold 39 unsupported sentences, too few to tell settings apart when none of them
gets a ✓. Each dev sentence that is supported and gets a ✓ is changed the ways a small model
gets a fact wrong - another number, a "not" added, two words turned round, a word of the
passage put where it does not belong - and the changed sentence, citing the same passage,
should no longer get a ✓. Deterministic (no randomness); synthetic, so a figure here is a
relative one: it compares settings on dev, it is no precision (a few changes keep the meaning,
e.g. turning round two items of a list). Used by ``python -m benchmarks.claim_check
--calibrate``.

>>> for kind, changed in perturbations("The daemon listens on port 3493.", "Ports of upsd."):
...     print(kind, changed)
number The daemon listens on port 3494.
turned The port listens on daemon 3493.
misplaced The daemon upsd on port 3493.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shared_utils.text import QUESTION_STOPWORDS

_NUMBER = re.compile(r"(?<![\w.-])\d+(?!\w|\.\d)")
_VERB = re.compile(r"\b(?:is|are|can|will|does|must|should)\b")
_WORD = re.compile(r"\b[a-z]{4,}\b")


def _number(sentence: str, _passage: str) -> str:
    m = _NUMBER.search(sentence)
    return sentence[: m.start()] + str(int(m.group()) + 1) + sentence[m.end() :] if m else ""


def _negation(sentence: str, _passage: str) -> str:
    m = _VERB.search(sentence)
    return f"{sentence[: m.end()]} not{sentence[m.end() :]}" if m else ""


def _content_words(text: str) -> list[re.Match[str]]:
    return [m for m in _WORD.finditer(text) if m.group() not in QUESTION_STOPWORDS]


def _turned(sentence: str, _passage: str) -> str:
    """The first and the last content word of the sentence swapped."""
    found = _content_words(sentence)
    if len(found) < 2 or found[0].group() == found[-1].group():
        return ""
    first, last = found[0], found[-1]
    return (
        sentence[: first.start()]
        + last.group()
        + sentence[first.end() : last.start()]
        + first.group()
        + sentence[last.end() :]
    )


def _misplaced(sentence: str, passage: str) -> str:
    """The sentence's middle content word replaced by a word of the passage it does not use."""
    found = _content_words(sentence)
    others = sorted(
        {m.group() for m in _content_words(passage)} - {m.group() for m in _WORD.finditer(sentence)}
    )
    if not found or not others:
        return ""
    middle = found[len(found) // 2]
    return sentence[: middle.start()] + others[0] + sentence[middle.end() :]


_KINDS: dict[str, Callable[[str, str], str]] = {
    "number": _number,
    "negation": _negation,
    "turned": _turned,
    "misplaced": _misplaced,
}


def perturbations(sentence: str, passage: str) -> list[tuple[str, str]]:
    """(kind, changed sentence) for each change that applies to ``sentence``."""
    out = [(kind, change(sentence, passage)) for kind, change in _KINDS.items()]
    return [(kind, changed) for kind, changed in out if changed and changed != sentence]
