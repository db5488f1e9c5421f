"""Value types shared by every building block.

Every retriever returns ``list[ScoredChunk]`` so fusion and reranking compose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Page:
    """Text of one PDF page; ``number`` is 1-based, as printed by PDF viewers."""

    number: int
    text: str
    # what the parser noticed: "garbled" (text fails a language check), "hidden text" (text
    # a reader cannot see was left out, or kept after a marker)
    flags: tuple[str, ...] = ()


def chunk_id(doc_id: str, ordinal: int) -> str:
    """The id of chunk ``ordinal`` (from 0) of a document; ids sort in reading order.

    >>> chunk_id("a1b2", 7)
    'a1b2:000007'
    """
    return f"{doc_id}:{ordinal:06d}"


def chunk_ordinal(id_: str) -> int:
    """The ordinal a :func:`chunk_id` carries (0 for an id not built by it).

    >>> chunk_ordinal("a1b2:000007"), chunk_ordinal("odd")
    (7, 0)
    """
    tail = id_.rsplit(":", 1)[-1]
    return int(tail) if ":" in id_ and tail.isdigit() else 0


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable passage: a span of one document, with the pages it covers."""

    id: str  # chunk_id(doc_id, ordinal)
    doc_id: str
    ordinal: int
    text: str
    page_start: int
    page_end: int
    doc_name: str = ""

    @property
    def pages(self) -> str:
        """Human page label: ``"p. 4"`` or ``"pp. 4-5"``."""
        if self.page_start == self.page_end:
            return f"p. {self.page_start}"
        return f"pp. {self.page_start}-{self.page_end}"


@dataclass(slots=True)
class ScoredChunk:
    """A chunk with a retrieval score (higher is better) and per-leg ranks (1-based).

    ``similarity``: the dense leg's cosine similarity of the chunk to the query, when that leg
    found it (an absolute relevance, unlike the rank-based fused score: abstention uses it)."""

    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    similarity: float | None = None


@dataclass
class SearchResult:
    """Results of one search, best first; ``timings`` in ms: embed, dense, bm25, fuse, total."""

    query: str
    results: list[ScoredChunk]
    timings: dict[str, float] = field(default_factory=dict)


DocumentStatus = Literal["ingesting", "ready"]


@dataclass(slots=True)
class DocumentRecord:
    """A document as listed to users. ``id`` is the sha256 of the file bytes."""

    id: str
    name: str
    pages: int
    chunks: int
    size_bytes: int
    added_at: float  # unix time
    status: DocumentStatus = "ingesting"
    # what ingestion did with each page (triage.ParseReport.to_dict()); {} for older documents
    parse_report: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress report from a long operation (ingestion, download, import).

    ``stage`` names the step (e.g. "parse", "embed", "store", "download"); ``done``/``total``
    count its units (pages, chunks, bytes); ``total`` is 0 when unknown.
    """

    stage: str
    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.done / self.total) if self.total else None


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """Progress callback that ignores reports."""
