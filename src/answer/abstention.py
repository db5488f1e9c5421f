"""Abstention: say "the documents don't say" when retrieval found nothing that answers.

One score decides, the *answerability*: the best dense-leg cosine similarity among the retrieved
sources (the fused RRF score is rank-based and says nothing about absolute relevance) times the
share of the question's content words that the sources hold, each word weighted by its rarity
in the library. A passage can be as similar to "On which port does the Kubernetes API server
listen by default?" as to an answerable question (it is about a server and a port), but no
source holds "kubernetes", the rarest and so the heaviest word. Under the threshold no model is
asked: the refusal names what was searched, the words no source holds and the closest passage.
The threshold belongs to the embedding model (cosine scales differ) and is chosen on the dev
split (``answer_set.json`` + ``answer_dev.json``: 125 answerable, 21 unanswerable over seven
manuals) with ``python -m benchmarks.answer_quality --calibrate``: for all-MiniLM-L6-v2 0.20
sits in the widest gap of the dev scores (answerable questions from 0.175, unanswerable up to
0.25; see benchmarks/README.md, "Abstention"). For another embedding model no threshold is
known and retrieval alone never refuses (the prompt's instruction still asks the model to).

A second signal needs no threshold of its own: a question that names something - a capitalised
name, an identifier with a capital inside or a digit ("PostgreSQL", "Wi-Fi", "5.2") - that no
indexed document mentions is about something the documents never mention, however close its
other words come. An ordinary hyphenated word ("in-memory", "re-run", "two-digit") is not a
name. A document mentions a name in its text, in its file name ("GMPL": gmpl.pdf) or as the
initials of its title ("GLPK": GNU Linear Programming Kit).

Nothing refuses a strong match: a source at least ``STRONG_MATCH`` similar, one holding every
content word of the question (a vague "What does chapter 3 cover?" embeds far from everything),
or one that defines the abbreviation asked about ("Emacs Speaks Statistics (ESS)").

>>> from shared_utils.types import Chunk, ScoredChunk
>>> far = ScoredChunk(Chunk("d:1", "d", 1, "Bake bread.", 3, 3, "guide.pdf"), 0.03, {}, 0.21)
>>> decide([far], "How do I set up nginx?", threshold=0.2).abstain
True
>>> print(decide([far], "How do I set up nginx?", threshold=0.2).message)
The indexed documents do not seem to answer this. I searched for “How do I set up nginx?”: no
source found mentions “set” or “nginx”, and the closest passage (guide.pdf p. 3) has similarity
0.21 (answerability 0.00; answers need 0.20).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared_utils.text import question_terms, stem, words
from shared_utils.types import ScoredChunk, chunk_id

if TYPE_CHECKING:
    from shared_utils.retrieval.base import KeywordIndex
    from shared_utils.stores.base import DocumentStore

# calibrated per embedding model (see the module docstring); keys are settings.embedding_model.
# The similarity under which a passage is "loosely related" (the relevance scale):
THRESHOLDS = {
    "sentence-transformers/all-MiniLM-L6-v2": 0.42,
}
# The answerability (best similarity x share of the question held) an answer needs:
ANSWERABILITY = {
    "sentence-transformers/all-MiniLM-L6-v2": 0.20,
}
# a source at least this similar is a strong match: nothing refuses then
STRONG_MATCH = 0.65
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
    answerability: float | None = None  # best similarity x share of the question held


def threshold_for(embedding_model: str, override: float | None = None) -> float:
    """The similarity under which a passage of ``embedding_model`` is "loosely related" (0:
    not calibrated, no scale)."""
    if override is not None:
        return override
    return THRESHOLDS.get(embedding_model, 0.0)


def answerability_for(embedding_model: str, override: float | None = None) -> float:
    """The answerability an answer needs with ``embedding_model`` (0: retrieval never refuses)."""
    if override is not None:
        return override
    return ANSWERABILITY.get(embedding_model, 0.0)


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
    return any(
        re.search(rf"\(\s*{re.escape(n)}\s*\)", s.chunk.text)
        for n in abbreviations
        for s in sources
    )


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
        if len(token) > 1 and (
            any(c.isdigit() for c in token)
            or any(c.isupper() for c in token[1:])
            or (i > 0 and token[0].isupper())
        ):
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
    firsts = docstore.get_chunks([chunk_id(doc.id, 0) for doc in docs])
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
        if keywords.unseen(" ".join(parts)) or (
            len(parts) > 1 and not _has_phrase(parts, keywords, docstore)
        ):
            absent.append(name)
    return absent


def _has_phrase(parts: list[str], keywords: KeywordIndex, docstore: DocumentStore) -> bool:
    """Whether a chunk holds the words as one phrase ("pre-commit", "pre commit", "precommit")."""
    phrase = re.compile(r"\b" + r"[\s\-.]?".join(map(re.escape, parts)) + r"\b", re.IGNORECASE)
    ids = [id_ for id_, _ in keywords.search(" ".join(parts), PHRASE_CANDIDATES)]
    return any(phrase.search(chunk.text) for chunk in docstore.get_chunks(ids))


def _without(query: str, absent: Sequence[str]) -> str:
    """``query`` without the ``absent`` names (what the rest of the question asks)."""
    for name in absent:
        query = query.replace(name, " ")
    return query


def weights(query: str, keywords: KeywordIndex | None = None) -> dict[str, float]:
    """Each content word of ``query`` with its weight: its rarity in the library (BM25's idf of
    its stem), so "kubernetes" weighs more than "server" and "port"; 1 each where the keyword
    index cannot count."""
    terms = [w for w in dict.fromkeys(words(query)) if w in question_terms(query)]
    frequency = keywords.frequencies([stem(t) for t in terms]) if keywords and terms else None
    if keywords is None or not frequency:
        return dict.fromkeys(terms, 1.0)
    n = keywords.count()
    # a compound the index never holds whole ("lead-acid") weighs most; weighing it as its
    # rarest part instead refused one unanswerable dev question fewer and no answerable fewer
    return {
        t: math.log(1 + (n - frequency[stem(t)] + 0.5) / (frequency[stem(t)] + 0.5)) for t in terms
    }


def coverage(weight: dict[str, float], sources: Sequence[ScoredChunk]) -> tuple[float, list[str]]:
    """(share of the question's weight that some source holds, the words none holds).

    >>> from shared_utils.types import Chunk, ScoredChunk
    >>> nut = ScoredChunk(Chunk("d:1", "d", 1, "upsd listens on port 3493.", 3, 3, "nut.pdf"), 0, {}, 0.5)
    >>> coverage({"port": 1.0, "upsd": 1.0, "kubernetes": 6.0}, [nut])
    (0.25, ['kubernetes'])
    """
    # a source's document name counts: "power manual" is what power-manual.pdf is about
    held = set().union(*(_stems_of(f"{s.chunk.text} {s.chunk.doc_name}") for s in sources))
    missing = [t for t in weight if stem(t) not in held]
    total = sum(weight.values())
    return (1 - sum(weight[t] for t in missing) / total if total > 0 else 1.0), missing


def decide(
    sources: Sequence[ScoredChunk],
    query: str,
    *,
    threshold: float,
    absent: Sequence[str] = (),
    weight: dict[str, float] | None = None,
) -> Abstention:
    """Abstain when the answerability - the best source's similarity times the share of the
    question's (``weight``-ed) words the sources hold - is under ``threshold`` (never when 0),
    or when the query names something ``absent`` from every document and no source holds the
    rest of it. Never against a strong match: a source ``STRONG_MATCH`` similar, one holding
    every word of the question, or one defining the abbreviation it asks about."""
    best = best_similarity(sources)
    if threshold <= 0 or not sources or best is None:
        return Abstention(False, best, threshold)
    share, missing = coverage(weight if weight is not None else weights(query), sources)
    score = best * share
    if best >= STRONG_MATCH:
        return Abstention(False, best, threshold, answerability=score)
    if absent and not covered(_without(query, absent), sources):
        return Abstention(
            True,
            best,
            threshold,
            (
                "The indexed documents do not seem to answer this: none of them mentions "
                f"{_listed(absent)}. I searched for “{query}”; the closest passage has similarity "
                f"{best:.2f}."
            ),
            score,
        )
    if score >= threshold or covered(query, sources) or defines(query, sources):
        return Abstention(False, best, threshold, answerability=score)
    top = max(sources, key=lambda s: s.similarity if s.similarity is not None else -1.0).chunk
    found = (
        f"no source found mentions {_listed(missing, 'or')}, and the closest passage "
        f"({top.doc_name} {top.pages}) has similarity {best:.2f}"
        if missing
        else f"the closest passage ({top.doc_name} {top.pages}) is only {LOOSELY} "
        f"(similarity {best:.2f})"
    )
    return Abstention(
        True,
        best,
        threshold,
        (
            f"The indexed documents do not seem to answer this. I searched for “{query}”: {found} "
            f"(answerability {score:.2f}; answers need {threshold:.2f})."
        ),
        score,
    )


def _listed(items: Sequence[str], conjunction: str = "") -> str:
    quoted = [f"“{item}”" for item in items]
    if conjunction and len(quoted) > 1:
        return f"{', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"
    return ", ".join(quoted)
