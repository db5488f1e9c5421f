"""Abstention: say "the documents don't say" when retrieval found nothing relevant.

The signal is the best dense-leg cosine similarity among the retrieved sources (the fused RRF
score is rank-based and says nothing about absolute relevance). Below the threshold, unless one
source holds every content word of the question, no model is asked: the refusal names what was
searched and the closest passage. The threshold belongs to the embedding model (cosine scales
differ between models) and is chosen on the dev split (``answer_set.json`` +
``answer_dev.json``, 125 answerable, 21 unanswerable over seven manuals) with ``python -m
benchmarks.answer_quality --calibrate``: for all-MiniLM-L6-v2 (int8, the default) 0.42 admits as
many unanswerable questions as 0.43 (14 of 21, names included) and refuses one answerable
question fewer (4 of 125; see benchmarks/README.md, "Abstention"). For another embedding model
no threshold is known and retrieval alone never refuses (the prompt's instruction still asks the
model to say so).

A second signal needs no threshold of its own: a question that names something - a capitalised
name, an identifier with a capital inside or a digit ("PostgreSQL", "Wi-Fi", "5.2") - that no
indexed document mentions is about something the documents never mention, however close its
other words come ("Which PostgreSQL setting controls the size of the shared buffers?" scores
0.435 against the bash manual's buffers). An ordinary hyphenated word ("in-memory", "re-run",
"two-digit") is not a name. A document mentions a name in its text, in its file name
("GMPL": gmpl.pdf) or as the initials of its title ("GLPK": GNU Linear Programming Kit). A
refusal by names never overrides a strong match: it refuses only below ``NAME_CEILING``, and
not when one source holds every other content word of the question.

>>> from shared_utils.types import Chunk, ScoredChunk
>>> far = ScoredChunk(Chunk("d:1", "d", 1, "Bake bread.", 3, 3, "guide.pdf"), 0.03, {}, 0.21)
>>> decide([far], "How do I set up nginx?", threshold=0.43).abstain
True
>>> print(decide([far], "How do I set up nginx?", threshold=0.43).message)
The indexed documents do not seem to answer this. I searched for “How do I set up nginx?” and
the closest passage (guide.pdf p. 3) is only loosely related (similarity 0.21; answers need 0.43).
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
    "sentence-transformers/all-MiniLM-L6-v2": 0.42,
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
    return len(terms) >= 2 and any(terms <= _stems_of(s.chunk.text) for s in sources)


def defines(query: str, sources: Sequence[ScoredChunk]) -> bool:
    """Whether a source defines an abbreviation the query names: "Emacs Speaks Statistics
    (ESS)" answers "What does ESS stand for?" however far the embeddings are."""
    abbreviations = [n for n in names(query) if sum(c.isupper() for c in n) >= 2]
    return any(re.search(rf"\(\s*{re.escape(n)}\s*\)", s.chunk.text)
               for n in abbreviations for s in sources)


def _stems_of(text: str) -> set[str]:
    """Stems of the words of ``text``, a compound's parts too ("contact-closure")."""
    tokens = words(text)
    return {stem(p) for w in tokens for p in {w, *re.split(r"[-/.]", w)} if p}


def names(question: str) -> list[str]:
    """What a question names: capitalised words (not the first; not "I"), words with a capital
    inside or a digit (versions: "5.2"); a lower-case hyphenated word ("in-memory") is none.

    >>> names("How do I set up a Git pre-commit hook for PostgreSQL 16 on Wi-Fi?")
    ['Git', 'PostgreSQL', '16', 'Wi-Fi']
    >>> names("Which variable sets a default timeout for a re-run of a built-in?")
    []
    """
    out = []
    for i, token in enumerate(_TOKEN.findall(question)):
        if len(token) > 1 and (any(c.isdigit() for c in token)
                or any(c.isupper() for c in token[1:]) or (i > 0 and token[0].isupper())):
            out.append(token)
    return list(dict.fromkeys(out))


def document_names(docstore: DocumentStore) -> set[str]:
    """Lower-case names the documents go by: the words of their file names, and the initials
    of the capitalised word runs of their first chunk (the title page: "GNU Linear Programming
    Kit" -> "glpk", "Network UPS Tools" -> "nut")."""
    out: set[str] = set()
    docs = docstore.list_documents()
    for doc in docs:
        stem_name = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", doc.name).lower()
        out.add(stem_name)
        out.update(p for p in re.split(r"[\W_]+", stem_name) if len(p) > 1)
    firsts = docstore.get_chunks([f"{doc.id}:{0:06d}" for doc in docs])
    for chunk in firsts:
        out.update(_initials(chunk.text[:1000]))
    return out


def _initials(text: str) -> set[str]:
    """Initials of every run of 2+ capitalised words ("Network UPS Tools" -> "nut", "nu", "ut").

    >>> sorted(_initials("see the Network UPS Tools manual"))
    ['nu', 'nut', 'ut']
    """
    out: set[str] = set()
    for run in re.findall(r"(?:\b[A-Z][\w]*\b[ \t]+){1,}[A-Z][\w]*\b", text):
        letters = [w[0].lower() for w in run.split()]
        for i in range(len(letters)):
            for j in range(i + 2, len(letters) + 1):
                out.add("".join(letters[i:j]))
    return out


def absent_names(question: str, keywords: KeywordIndex, docstore: DocumentStore) -> list[str]:
    """The names of ``question`` that no indexed chunk contains (a compound: as a phrase) and
    no document goes by (``document_names``)."""
    absent = []
    found = names(question)
    known = document_names(docstore) if found else set()
    for name in found:
        parts = re.split(r"[-.]", name.lower())
        if name.lower() in known or "".join(parts) in known:
            continue
        if keywords.unseen(" ".join(parts)) or (len(parts) > 1 and not _has_phrase(parts, keywords, docstore)):
            absent.append(name)
    return absent


def _has_phrase(parts: list[str], keywords: KeywordIndex, docstore: DocumentStore) -> bool:
    """Whether a chunk holds the words as one phrase ("pre-commit", "pre commit", "precommit")."""
    phrase = re.compile(r"\b" + r"[\s\-.]?".join(map(re.escape, parts)) + r"\b", re.IGNORECASE)
    ids = [chunk_id for chunk_id, _ in keywords.search(" ".join(parts), PHRASE_CANDIDATES)]
    return any(phrase.search(chunk.text) for chunk in docstore.get_chunks(ids))


def _without(query: str, absent: Sequence[str]) -> str:
    """``query`` without the ``absent`` names (what the rest of the question asks)."""
    for name in absent:
        query = query.replace(name, " ")
    return query


def decide(sources: Sequence[ScoredChunk], query: str, *, threshold: float,
           absent: Sequence[str] = ()) -> Abstention:
    """Abstain when the best source's similarity is under ``threshold`` (never when 0) and no
    source holds all the words of the query, or when the query names something ``absent``
    from every document and the best similarity is under ``NAME_CEILING``."""
    best = best_similarity(sources)
    if (absent and sources and best is not None and threshold > 0 and best < NAME_CEILING
            and not covered(_without(query, absent), sources)):
        listed = ", ".join(f"“{name}”" for name in absent)
        return Abstention(True, best, threshold, (
            f"The indexed documents do not seem to answer this: none of them mentions {listed}. "
            f"I searched for “{query}”; the closest passage is only {LOOSELY} "
            f"(similarity {best:.2f})."))
    if threshold <= 0 or not sources or best is None or best >= threshold:
        return Abstention(False, best, threshold)
    if covered(query, sources) or defines(query, sources):
        return Abstention(False, best, threshold)
    top = max(sources, key=lambda s: s.similarity if s.similarity is not None else -1.0).chunk
    message = (
        f"The indexed documents do not seem to answer this. I searched for “{query}” and the "
        f"closest passage ({top.doc_name} {top.pages}) is only {LOOSELY} (similarity "
        f"{best:.2f}; answers need {threshold:.2f})."
    )
    return Abstention(True, best, threshold, message)
