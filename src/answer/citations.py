"""Citations: ``[n]`` markers in an answer, mapped to document and page.

Accepted forms: ``[1]``, ``[1, 2]``, ``[1;2]``, ``[1][2]``, ``[1-3]`` and ``[Source 1]``.
Numbers that point at no source are removed from the answer text and reported, so a user
never follows a citation to nowhere. Small models often state a fact from a source without
citing it: ``attribute`` adds the marker of the source that a sentence plainly comes from
(most of its content words appear in that source), and such citations are ``inferred``.

>>> text, cites, removed = resolve("Use stap [1, 7]. It is fast [9].", [_demo()])
>>> text
'Use stap [1]. It is fast.'
>>> [c.number for c in cites], removed
([1], [7, 9])
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared_utils.text import BULLET, PARAGRAPH_BREAK, SENTENCE_END, question_terms, words
from shared_utils.types import Chunk, ScoredChunk
from src.events import Citation

_GROUP = re.compile(
    r"(?P<space>[ \t]?)\[(?:(?:source|sources|src)\s*)?"
    r"(?P<body>\d+(?:\s*(?:[,;]|-|–|and)\s*(?:(?:source)\s*)?\d+)*)\]",
    re.IGNORECASE,
)
_NUMBER_OR_RANGE = re.compile(r"(\d+)\s*(?:(?:-|–)\s*(\d+))?")
MAX_RANGE = 20
_GONE = "\x00"


def parse_markers(text: str) -> list[int]:
    """Every cited number, in order of first appearance.

    >>> parse_markers("a [2] b [1][2] c [3-4] d [Source 5]")
    [2, 1, 3, 4, 5]
    """
    seen: list[int] = []
    for match in _GROUP.finditer(text):
        for n in _numbers(match.group("body")):
            if n not in seen:
                seen.append(n)
    return seen


def _numbers(body: str) -> list[int]:
    out: list[int] = []
    for m in _NUMBER_OR_RANGE.finditer(body):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else start
        if end < start or end - start > MAX_RANGE:
            end = start
        out.extend(range(start, end + 1))
    return out


def strip_markers(text: str) -> str:
    """``text`` without its citation markers.

    >>> strip_markers("Use stap [1, 2]. Done [3].")
    'Use stap. Done.'
    """
    return _GROUP.sub("", text)


def citation_for(number: int, chunk: Chunk) -> Citation:
    return Citation(
        number=number,
        doc_id=chunk.doc_id,
        doc_name=chunk.doc_name,
        page_start=chunk.page_start,
        page_end=chunk.page_end,
    )


def resolve(answer: str, sources: Sequence[ScoredChunk]) -> tuple[str, list[Citation], list[int]]:
    """(clean answer, citations in order of first use, removed numbers).

    ``sources[i]`` is source number ``i + 1``. A marker group keeps its valid numbers
    (rewritten as ``[1, 2]``); a group with none is deleted with the space before it.
    """
    valid = range(1, len(sources) + 1)
    removed: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = _numbers(match.group("body"))
        keep = [n for n in dict.fromkeys(numbers) if n in valid]
        attached = (
            not match.group("space")
            and match.start() > 0
            and (answer[match.start() - 1].isalnum() or answer[match.start() - 1] == "_")
        )
        if not keep and attached:
            return match.group(0)  # code such as list[0], not a citation
        removed.extend(n for n in numbers if n not in valid and n not in removed)
        if not keep:
            return _GONE
        if len(keep) == 1 and len(numbers) == 1:
            return match.group(0)  # untouched
        return match.group("space") + "[" + ", ".join(map(str, keep)) + "]"

    clean = _GROUP.sub(fix, answer)
    clean = clean.replace(_GONE + "[", " [").replace(_GONE, "")
    citations = [citation_for(n, sources[n - 1].chunk) for n in parse_markers(clean) if n in valid]
    return clean, citations, removed


MIN_SHARED_TERMS = 3
MIN_SHARED_SHARE = 0.6


def attribute(answer: str, source_texts: Sequence[str]) -> tuple[str, list[int]]:
    """Add ``[n]`` after each uncited answer sentence whose content words mostly (>= 60 %,
    at least 3) occur in source ``n``; returns (text, numbers added). Cited answers and
    sentences that match no source are left alone.

    >>> attribute("Upsd listens on TCP port 3493 by default.", ["upsd listens on port 3493."])
    ('Upsd listens on TCP port 3493 by default. [1]', [1])
    >>> attribute("Use port 80 [2].", ["port 80"])
    ('Use port 80 [2].', [])
    """
    if _GROUP.search(answer) or not source_texts:
        return answer, []
    vocab = [set(words(t)) for t in source_texts]
    added: list[int] = []
    # sentences and their separators
    pieces = re.split(
        f"({SENTENCE_END.pattern}|{PARAGRAPH_BREAK.pattern}|{BULLET.pattern})", answer
    )
    for i in range(0, len(pieces), 2):
        sentence = pieces[i]
        terms = question_terms(sentence)
        best, best_n = 0.0, 0
        for n, v in enumerate(vocab, 1):
            shared = len(terms & v)
            if shared >= MIN_SHARED_TERMS and shared / len(terms) > best:
                best, best_n = shared / len(terms), n
        if best >= MIN_SHARED_SHARE:
            stripped = sentence.rstrip()
            pieces[i] = f"{stripped} [{best_n}]{sentence[len(stripped) :]}"
            added.append(best_n)
    return ("".join(p for p in pieces if p is not None), added) if added else (answer, [])


def _demo() -> ScoredChunk:
    chunk = Chunk("d:000000", "d", 0, "text", 4, 4, "guide.pdf")
    return ScoredChunk(chunk, 1.0)
