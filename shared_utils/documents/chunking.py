"""Token-sized, sentence-aware chunks with overlap and the page span of their text.

Pages are split into sentences (``shared_utils/text.py``); a sentence longer than
the budget is split on line breaks, then on words, then (a single giant "word") on characters.
Sentences are packed greedily into chunks of at most ``max_tokens`` tokens as counted by the
embedding model's tokenizer; consecutive chunks share up to ``overlap_tokens`` of whole
trailing sentences. Every chunk is re-counted at the end, so no chunk ever exceeds
``max_tokens`` (the embedding model never silently truncates one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared_utils.text import split_sentences
from shared_utils.types import Chunk, Page, chunk_id

CountTokens = Callable[[str], int]
CountTokensBatch = Callable[[Sequence[str]], list[int]]


@dataclass(slots=True)
class _Unit:
    text: str
    page: int
    tokens: int = 0


def chunk_pages(
    pages: Sequence[Page],
    *,
    doc_id: str,
    doc_name: str,
    count_tokens: CountTokens,
    max_tokens: int,
    overlap_tokens: int,
    count_tokens_batch: CountTokensBatch | None = None,
) -> list[Chunk]:
    """Chunks of a document's pages; ids ``types.chunk_id(doc_id, ordinal)``, ordinals from 0.

    ``count_tokens`` counts the embedding model's tokens (special tokens excluded; keep
    ``max_tokens`` below the model window minus those). A batch counter is used when given
    or when ``count_tokens`` is a bound method whose object has ``count_tokens_batch``
    (e.g. :class:`shared_utils.embeddings.Embedder`).

    >>> pages = [Page(1, "One two three. Four five six."), Page(2, "Seven eight nine.")]
    >>> words = lambda s: len(s.split())
    >>> for c in chunk_pages(pages, doc_id="d", doc_name="n", count_tokens=words,
    ...                      max_tokens=6, overlap_tokens=3):
    ...     print(c.id, c.pages, c.text)
    d:000000 p. 1 One two three. Four five six.
    d:000001 pp. 1-2 Four five six. Seven eight nine.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be >= 0 and smaller than max_tokens")
    count_many = _batch_counter(count_tokens, count_tokens_batch)
    units = [
        _Unit(s, page.number)
        for page in pages
        for s in split_sentences(page.text, at_bullets=False)
    ]
    _count(units, count_many)
    units = _split_oversized(units, max_tokens, count_many)
    groups = _pack(units, max_tokens, overlap_tokens)
    groups = _enforce_limit(groups, max_tokens, count_many)
    return [
        Chunk(
            id=chunk_id(doc_id, ordinal),
            doc_id=doc_id,
            ordinal=ordinal,
            text=" ".join(u.text for u in group),
            page_start=min(u.page for u in group),
            page_end=max(u.page for u in group),
            doc_name=doc_name,
        )
        for ordinal, group in enumerate(groups)
    ]


def chunk_text(
    text: str,
    *,
    count_tokens: CountTokens,
    max_tokens: int,
    overlap_tokens: int = 0,
    count_tokens_batch: CountTokensBatch | None = None,
) -> list[str]:
    """Texts of the chunks of one string (same rules as :func:`chunk_pages`).

    >>> chunk_text("A b c. D e f. G h.", count_tokens=lambda s: len(s.split()), max_tokens=5)
    ['A b c.', 'D e f. G h.']
    """
    chunks = chunk_pages(
        [Page(1, text)],
        doc_id="text",
        doc_name="",
        count_tokens=count_tokens,
        max_tokens=max_tokens,
        overlap_tokens=overlap_tokens,
        count_tokens_batch=count_tokens_batch,
    )
    return [c.text for c in chunks]


def _batch_counter(single: CountTokens, batch: CountTokensBatch | None) -> CountTokensBatch:
    if batch is None:
        batch = getattr(getattr(single, "__self__", None), "count_tokens_batch", None)
    if batch is not None:
        return batch
    return lambda texts: [single(t) for t in texts]


def _count(units: list[_Unit], count_many: CountTokensBatch) -> None:
    for unit, n in zip(units, count_many([u.text for u in units]), strict=True):
        unit.tokens = n


def _split_oversized(
    units: list[_Unit], max_tokens: int, count_many: CountTokensBatch
) -> list[_Unit]:
    """Replace units over budget by pieces within it (words, then characters)."""
    if all(u.tokens <= max_tokens for u in units):
        return units
    out: list[_Unit] = []
    for unit in units:
        if unit.tokens <= max_tokens:
            out.append(unit)
            continue
        words = [_Unit(w, unit.page) for w in unit.text.split()]
        _count(words, count_many)
        pieces: list[_Unit] = []
        for word in words:
            pieces.extend(
                [word] if word.tokens <= max_tokens else _split_chars(word, max_tokens, count_many)
            )
        for group in _pack(pieces, max_tokens, 0):
            out.append(
                _Unit(" ".join(p.text for p in group), unit.page, sum(p.tokens for p in group))
            )
    return out


def _split_chars(unit: _Unit, max_tokens: int, count_many: CountTokensBatch) -> list[_Unit]:
    """Cut one giant token run into character slices that each fit the budget."""
    size = max(1, len(unit.text) * max_tokens // max(unit.tokens, 1))
    while True:
        pieces = [_Unit(unit.text[i : i + size], unit.page) for i in range(0, len(unit.text), size)]
        _count(pieces, count_many)
        if all(p.tokens <= max_tokens for p in pieces) or size == 1:
            return pieces
        size = max(1, size // 2)


def _pack(units: list[_Unit], max_tokens: int, overlap_tokens: int) -> list[list[_Unit]]:
    """Greedy packing; each new group starts with the previous group's trailing overlap."""
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    total = 0
    for unit in units:
        if current and total + unit.tokens > max_tokens:
            groups.append(current)
            tail: list[_Unit] = []
            tail_tokens = 0
            for prev in reversed(current[1:]):  # never carry the whole group over
                if tail_tokens + prev.tokens > overlap_tokens:
                    break
                tail.insert(0, prev)
                tail_tokens += prev.tokens
            while tail and tail_tokens + unit.tokens > max_tokens:
                tail_tokens -= tail.pop(0).tokens
            current, total = tail, tail_tokens
        current.append(unit)
        total += unit.tokens
    if current:
        groups.append(current)
    return groups


def _enforce_limit(
    groups: list[list[_Unit]], max_tokens: int, count_many: CountTokensBatch
) -> list[list[_Unit]]:
    """Re-count joined texts (tokenizers need not be additive); halve any group over budget."""
    while True:
        counts = count_many([" ".join(u.text for u in g) for g in groups])
        if all(n <= max_tokens for n in counts):
            return groups
        fixed: list[list[_Unit]] = []
        for group, n in zip(groups, counts, strict=True):
            if n <= max_tokens or len(group) == 1:
                if n > max_tokens:  # a single unit that only fits alone: cut it finer
                    halves = _split_chars(group[0], max(1, max_tokens // 2), count_many)
                    fixed.extend([h] for h in halves)
                else:
                    fixed.append(group)
            else:
                mid = len(group) // 2
                fixed.extend([group[:mid], group[mid:]])
        groups = fixed
