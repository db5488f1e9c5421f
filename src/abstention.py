"""Abstention: say "the documents don't say" when retrieval found nothing relevant.

The signal is the best dense-leg cosine similarity among the retrieved sources (the fused
RRF score is rank-based and says nothing about absolute relevance). Below the threshold, unless
one source holds every content word of the question, no model is asked: the refusal names what was searched and the closest passage. The threshold
belongs to the embedding model (cosine scales differ between models) and was calibrated on
``benchmarks/data/answer_set.json`` with ``python -m benchmarks.answer_quality --calibrate``:
all-MiniLM-L6-v2 (int8, the default) put every answerable question at >= 0.436 and 11 of 14
unanswerable ones below 0.43 (see benchmarks/README.md, "Abstention"). For another embedding
model no threshold is known and retrieval alone never refuses (the prompt's instruction still
asks the model to say so).

A second signal needs no threshold of its own: a question that names something - a capitalised
name, an identifier with digits, a hyphenated compound ("PostgreSQL", "pre-commit") - that no
indexed chunk contains is about something the documents never mention, however close its other
words come ("Which PostgreSQL setting controls the size of the shared buffers?" scores 0.435
against the bash manual's buffers). It refuses below ``NAME_CEILING`` only, so a typo in a name
within an otherwise well-matched question still gets an answer.

>>> from shared_utils.types import Chunk, ScoredChunk
>>> far = ScoredChunk(Chunk("d:1", "d", 1, "Bake bread.", 3, 3, "guide.pdf"), 0.03, {}, 0.21)
>>> decide([far], "How do I set up nginx?", threshold=0.43).abstain
True
>>> print(decide([far], "How do I set up nginx?", threshold=0.43).message)
The indexed documents do not seem to answer this. I searched for “How do I set up nginx?” and the closest passage (guide.pdf p. 3) is only loosely related (similarity 0.21; answers need 0.43).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared_utils.text import question_terms, stem, words
from shared_utils.types import ScoredChunk

if TYPE_CHECKING:
    from shared_utils.retrieval.base import KeywordIndex
    from shared_utils.stores.base import DocumentStore

# calibrated per embedding model (see the module docstring); keys are settings.embedding_model
THRESHOLDS = {
    "sentence-transformers/all-MiniLM-L6-v2": 0.43,
}
# above this best similarity a missing name does not refuse (calibrated with the threshold)
NAME_CEILING = 0.65
PHRASE_CANDIDATES = 20  # chunks holding every word of a compound, read to find it as a phrase
_TOKEN = re.compile(r"[^\W_]+(?:[-.][^\W_]+)+|[^\W_]+", re.UNICODE)  # "pre-commit", "5.2"


LOOSELY = "loosely related"  # below the threshold: not enough to answer from


def relevance(similarity: float | None, threshold: float) -> tuple[int, str]:
    """How related a passage is to the question on one absolute scale, the one abstention
    uses: (bar cells of 5, words). Below ``threshold`` a passage is "loosely related" (never
    more than 2 cells); the cells grow with the similarity, not with the rank among the
    answer's sources. Without a threshold (an uncalibrated embedding model) only the cells.

    >>> [relevance(s, 0.43) for s in (0.21, 0.40, 0.50, 0.66, 0.80)]  # doctest: +NORMALIZE_WHITESPACE
    [(1, 'loosely related'), (2, 'loosely related'), (3, 'related'), (4, 'closely related'),
     (5, 'closely related')]
    >>> relevance(None, 0.43), relevance(0.5, 0.0)
    ((0, 'keyword match'), (3, ''))
    """
    if similarity is None:
        return 0, "keyword match"  # found by the keyword leg only: no similarity to show
    if threshold <= 0:
        return max(1, min(5, math.ceil(5 * similarity))), ""
    if similarity < threshold:
        return (1 if similarity < 0.75 * threshold else 2), LOOSELY
    above = (similarity - threshold) / (1.0 - threshold)
    if above < 0.25:
        return 3, "related"
    return (4 if above < 0.5 else 5), "closely related"


@dataclass(frozen=True, slots=True)
class Abstention:
    abstain: bool
    best: float | None  # best similarity among the sources (None: the dense leg found none)
    threshold: float
    message: str = ""


def threshold_for(embedding_model: str, override: float | None = None) -> float:
    """The calibrated threshold of ``embedding_model`` (0: never refuse on retrieval alone)."""
    if override is not None:
        return override
    return THRESHOLDS.get(embedding_model, 0.0)


def best_similarity(sources: Sequence[ScoredChunk]) -> float | None:
    values = [s.similarity for s in sources if s.similarity is not None]
    return max(values) if values else None


def covered(query: str, sources: Sequence[ScoredChunk]) -> bool:
    """Whether one source holds every content word (two or more) of the query: a short or
    vague question ("What does chapter 3 cover?") embeds far from everything, yet its words
    are right there."""
    terms = {stem(t) for t in question_terms(query)}
    return len(terms) >= 2 and any(
        terms <= {stem(w) for w in words(s.chunk.text)} for s in sources
    )


def names(question: str) -> list[str]:
    """What a question names: capitalised words (not the first; not "I"), words with a capital
    inside or a digit (versions: "5.2"), and hyphenated compounds.

    >>> names("How do I set up a Git pre-commit hook for PostgreSQL 16?")
    ['Git', 'pre-commit', 'PostgreSQL', '16']
    >>> names("Which variable sets a default timeout?")
    []
    """
    out = []
    for i, token in enumerate(_TOKEN.findall(question)):
        if len(token) > 1 and ("-" in token or any(c.isdigit() for c in token)
                or any(c.isupper() for c in token[1:]) or (i > 0 and token[0].isupper())):
            out.append(token)
    return list(dict.fromkeys(out))


def absent_names(question: str, keywords: "KeywordIndex", docstore: "DocumentStore") -> list[str]:
    """The names of ``question`` that no indexed chunk contains (a compound: as a phrase)."""
    absent = []
    for name in names(question):
        parts = re.split(r"[-.]", name.lower())
        if keywords.unseen(" ".join(parts)):
            absent.append(name)
        elif len(parts) > 1 and not _has_phrase(parts, keywords, docstore):
            absent.append(name)
    return absent


def _has_phrase(parts: list[str], keywords: "KeywordIndex", docstore: "DocumentStore") -> bool:
    """Whether a chunk holds the words as one phrase ("pre-commit", "pre commit", "precommit")."""
    phrase = re.compile(r"\b" + r"[\s\-.]?".join(map(re.escape, parts)) + r"\b", re.IGNORECASE)
    ids = [chunk_id for chunk_id, _ in keywords.search(" ".join(parts), PHRASE_CANDIDATES)]
    return any(phrase.search(chunk.text) for chunk in docstore.get_chunks(ids))


def decide(sources: Sequence[ScoredChunk], query: str, *, threshold: float,
           absent: Sequence[str] = ()) -> Abstention:
    """Abstain when the best source's similarity is under ``threshold`` (never when 0) and no
    source holds all the words of the query, or when the query names something ``absent``
    from every document and the best similarity is under ``NAME_CEILING``."""
    best = best_similarity(sources)
    if absent and sources and best is not None and threshold > 0 and best < NAME_CEILING:
        listed = ", ".join(f"“{name}”" for name in absent)
        return Abstention(True, best, threshold, (
            f"The indexed documents do not seem to answer this: none of them mentions {listed}. "
            f"I searched for “{query}”; the closest passage is only {LOOSELY} "
            f"(similarity {best:.2f})."))
    if threshold <= 0 or not sources or best is None or best >= threshold:
        return Abstention(False, best, threshold)
    if covered(query, sources):
        return Abstention(False, best, threshold)
    top = max(sources, key=lambda s: s.similarity if s.similarity is not None else -1.0).chunk
    message = (
        f"The indexed documents do not seem to answer this. I searched for “{query}” and the "
        f"closest passage ({top.doc_name} {top.pages}) is only {LOOSELY} (similarity "
        f"{best:.2f}; answers need {threshold:.2f})."
    )
    return Abstention(True, best, threshold, message)
