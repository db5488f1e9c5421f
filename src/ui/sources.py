"""The sources panel under an answer: each cited passage, its document and page, how related
it is, and a button that shows it on the page.

Passages of the same document and pages are one entry ("[2, 5] manual.pdf · p. 84") that
holds both texts, each under its own number, so a page never appears twice. The numbers are
the answer's: source ``n`` stays ``sources[n - 1]`` (citation links, the viewer and the claim
check use that mapping), and both numbers' anchors lead to the shared entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from src.ui import render, state, viewer

MIN_OVERLAP = 20  # characters: shorter repeats between neighbouring passages are kept


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """Sources of one document and page span: their numbers (ascending) and passages."""

    numbers: tuple[int, ...]
    passages: tuple[Any, ...]  # ScoredChunk, in the order of ``numbers``

    @property
    def chunk(self) -> Any:
        return self.passages[0].chunk

    @property
    def similarity(self) -> float | None:
        values = [p.similarity for p in self.passages if p.similarity is not None]
        return max(values) if values else None


def entries(sources: Sequence[Any]) -> list[SourceEntry]:
    """One entry per document and page span, in the order of their first number.

    >>> from shared_utils.types import Chunk, ScoredChunk
    >>> def s(i, page): return ScoredChunk(Chunk(f"d:{i}", "d", i, "t", page, page, "m.pdf"), 0.1)
    >>> [e.numbers for e in entries([s(1, 4), s(2, 7), s(3, 4)])]
    [(1, 3), (2,)]
    """
    grouped: dict[tuple[str, int, int], list[tuple[int, Any]]] = {}
    for n, scored in enumerate(sources, 1):
        c = scored.chunk
        grouped.setdefault((c.doc_id, c.page_start, c.page_end), []).append((n, scored))
    return [
        SourceEntry(tuple(n for n, _ in items), tuple(p for _, p in items))
        for items in grouped.values()
    ]


def merged_texts(entry: SourceEntry) -> list[tuple[int, str]]:
    """(number, text) of each passage, in reading order; a passage that starts with the end
    of the one before it (chunks overlap) loses that repeat.

    >>> from shared_utils.types import Chunk, ScoredChunk
    >>> a = ScoredChunk(Chunk("d:1", "d", 1, "Alpha beta gamma delta epsilon zeta", 1, 1), 0.1)
    >>> b = ScoredChunk(Chunk("d:2", "d", 2, "gamma delta epsilon zeta eta theta", 1, 1), 0.1)
    >>> merged_texts(SourceEntry((2, 1), (b, a)))
    [(1, 'Alpha beta gamma delta epsilon zeta'), (2, '… eta theta')]
    """
    ordered = sorted(
        zip(entry.numbers, entry.passages, strict=True), key=lambda item: item[1].chunk.ordinal
    )
    out: list[tuple[int, str]] = []
    previous = ""
    for n, scored in ordered:
        text = scored.chunk.text
        repeat = _overlap(previous, text)
        out.append((n, "… " + text[repeat:].lstrip() if repeat else text))
        previous = text
    return out


def _overlap(before: str, after: str) -> int:
    """Length of the longest end of ``before`` that ``after`` starts with (0 below
    MIN_OVERLAP)."""
    for size in range(min(len(before), len(after)), MIN_OVERLAP - 1, -1):
        if before.endswith(after[:size]):
            return size
    return 0


def threshold() -> float:
    """The similarity answers need (the embedding model's calibrated threshold)."""
    from src.answer.abstention import threshold_for

    settings = state.settings()
    return threshold_for(settings.embedding_model, settings.abstain_similarity)


def render_sources(sources: list[Any], *, turn: int, question: str, expanded: bool) -> None:
    """The "Sources" expander of answer ``turn`` (``[n]`` links land on their entry)."""
    if not sources:
        return
    terms = render.query_terms(question)
    limit = threshold()
    shown = entries(sources)
    label = (
        f"Sources ({len(shown)})"
        if len(shown) == len(sources)
        else (f"Sources ({len(shown)} pages, {len(sources)} passages)")
    )
    with st.expander(label, expanded=expanded, icon=":material/menu_book:"):
        for entry in shown:
            _render_entry(entry, turn=turn, terms=terms, threshold=limit)


def _render_entry(entry: SourceEntry, *, turn: int, terms: list[str], threshold: float) -> None:
    chunk = entry.chunk
    st.markdown("".join(render.anchor_html(turn, n) for n in entry.numbers), unsafe_allow_html=True)
    name = render.escape_markdown(chunk.doc_name or chunk.doc_id[:12])
    numbers = ", ".join(str(n) for n in entry.numbers)
    bar = render.relevance_html(entry.similarity, threshold)
    st.markdown(
        f"**\\[{numbers}\\] {name}** · {chunk.pages} · {bar}", unsafe_allow_html=True
    )  # name escaped (no <, >, &); bar is ours
    texts = merged_texts(entry)
    for n, text in texts:
        prefix = f"**\\[{n}\\]** " if len(texts) > 1 else ""
        st.markdown(prefix + render.highlight(text, terms))
    viewer.source_button(entry.passages[0], key=f"view_{turn}_{entry.numbers[0]}")
