"""Citations: ``[n]`` markers in an answer, mapped to document and page.

Accepted forms: ``[1]``, ``[1, 2]``, ``[1;2]``, ``[1][2]``, ``[1-3]`` and ``[Source 1]``.
Numbers that point at no source are removed from the answer text and reported, so a user
never follows a citation to nowhere.

>>> text, cites, removed = resolve("Use stap [1, 7]. It is fast [9].", [_demo()])
>>> text
'Use stap [1]. It is fast.'
>>> [c.number for c in cites], removed
([1], [7, 9])
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def citation_for(number: int, chunk: Chunk) -> Citation:
    return Citation(
        number=number,
        doc_id=chunk.doc_id,
        doc_name=chunk.doc_name,
        page_start=chunk.page_start,
        page_end=chunk.page_end,
    )


def resolve(
    answer: str, sources: Sequence[ScoredChunk]
) -> tuple[str, list[Citation], list[int]]:
    """(clean answer, citations in order of first use, removed numbers).

    ``sources[i]`` is source number ``i + 1``. A marker group keeps its valid numbers
    (rewritten as ``[1, 2]``); a group with none is deleted with the space before it.
    """
    valid = range(1, len(sources) + 1)
    removed: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = _numbers(match.group("body"))
        keep = [n for n in dict.fromkeys(numbers) if n in valid]
        attached = not match.group("space") and match.start() > 0 and (
            answer[match.start() - 1].isalnum() or answer[match.start() - 1] == "_"
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


def _demo() -> ScoredChunk:
    chunk = Chunk("d:000000", "d", 0, "text", 4, 4, "guide.pdf")
    return ScoredChunk(chunk, 1.0)
