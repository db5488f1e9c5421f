"""Follow-up detection by measurement: does the previous question help retrieval?

A word list ("it", "what about", short questions) rewrote unrelated questions: "What is
debmake used for?" after a bash question searched for "... difference bash". Instead, with
history, the question is searched twice: alone, and *expanded* with the key terms of the
newest earlier question. It is a follow-up when the expanded query finds sources markedly
more similar to it than the question alone does (relative gain of the best dense similarity
>= ``MIN_RELATIVE_GAIN``); otherwise the question is searched as asked, never rewritten.

Calibrated on the 11 conversations of ``benchmarks/data/answer_set.json`` (see
benchmarks/README.md, "Follow-ups"): on the library as ingested 2026-12-01, 9 of 11 follow-ups
gained +0.39 to +0.85 relative (two did not reach 0.3: -0.11, and +0.21 for one whose question
alone already found its page); the unrelated next questions gained at most +0.05, so none was
rewritten. 0.3 sits between the two groups with the wider margin on the side of never rewriting.

A question that cannot stand alone - it opens elliptically ("And ...", "What about ...") or
refers back with a pronoun ("how do I install it?"), or has no content word of its own - needs
less: ``ELLIPTIC_GAIN``. So does a question linked by "then" ("How do I then compare two of
those fits?"), by a demonstrative after a preposition or opening a yes/no question ("... after
that?", "Is that option on by default?") or by a bare "instead" at its end. Chosen on the 31 dev
conversations (benchmarks/README.md "Follow-ups"): the elliptic follow-ups that gained at all
gained +0.12 or more, the elliptic unrelated questions -0.01 at most; with 0.3 for the others,
26 of 31 follow-ups are recognised and 0 of 31 unrelated questions rewritten (0.3 alone: 20 of
31).

>>> expanded_query("How do I seed it?", [("What range can $RANDOM produce?", "0 to 32767 [1]")])
'How do I seed it? range random produce'
>>> decide(0.29, 0.42).follow_up, decide(0.66, 0.62).follow_up, decide(0.45, 0.55).follow_up
(True, False, False)
>>> decide(0.45, 0.55, elliptic=True).follow_up, elliptic("And what about zero?")
(True, True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared_utils.text import question_terms, words

Turn = tuple[str, str]
MAX_ADDED_TERMS = 8
MIN_RELATIVE_GAIN = 0.3
ELLIPTIC_GAIN = 0.05  # a question that cannot stand alone: any clear gain
_ELLIPTIC = re.compile(
    r"^(?:and|but|also|then|so|or|what about|how about|what if|and if|same)\b"
    r"|\b(?:it|its|it's|itself|they|them|their|those|these|the latter|the former|that one|"
    r"this one|which one)\b"
    # "then" links to what came before ("How do I then ...", "..., then?"); so do a
    # demonstrative after a preposition or opening a yes/no question ("after that", "Is that
    # option ...") and a bare "instead" at the end; "a UPS that speaks" is none of these
    r"|\bthen\b|\b(?:after|before|with|without|for|from|about|than|like) (?:that|this)\b"
    r"|^(?:is|are|was|does|do|can|will|should) (?:that|this)\b|\binstead\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class FollowUp:
    follow_up: bool
    reason: str


def expanded_query(question: str, history: Sequence[Turn]) -> str | None:
    """The question plus the key terms of the newest earlier question that has some (None
    when there is no history or nothing to add). Earlier *answers* are never used."""
    have = question_terms(question)
    for previous, _answer in reversed(history):
        terms = question_terms(previous)
        added = [w for w in dict.fromkeys(words(previous)) if w in terms and w not in have]
        if added:
            return f"{question} {' '.join(added[:MAX_ADDED_TERMS])}"
    return None


def elliptic(question: str) -> bool:
    """Whether ``question`` refers back or opens elliptically, so cannot stand alone."""
    return bool(_ELLIPTIC.search(question.strip())) or not question_terms(question)


def decide(alone: float | None, expanded: float | None, *, elliptic: bool = False) -> FollowUp:
    """Follow-up when the expanded query's best source similarity beats the question's own by
    ``MIN_RELATIVE_GAIN`` (relative; ``ELLIPTIC_GAIN`` for a question that cannot stand
    alone)."""
    if alone is None or expanded is None:
        return FollowUp(False, "no similarity to compare")
    gain = (expanded - alone) / max(alone, 1e-6)
    if gain >= (ELLIPTIC_GAIN if elliptic else MIN_RELATIVE_GAIN):
        return FollowUp(
            True,
            f"with the previous question's terms the sources match {gain:+.0%} better "
            f"({alone:.2f} -> {expanded:.2f})",
        )
    return FollowUp(False, f"the question stands alone ({alone:.2f} vs {expanded:.2f} expanded)")
