"""Retrieval interfaces. Every retriever returns ``list[ScoredChunk]``.

Index classes store and search ids only; a ``Leg`` ranks ids for one query (dense vectors,
BM25, ...); ``FusionRetriever`` (``hybrid.py``) fuses any list of legs with weights
and lets the document store turn the winning ids into chunks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared_utils.types import Chunk


@dataclass(frozen=True, slots=True)
class Query:
    """A search request. ``doc_ids`` limits the search to those documents (None: all)."""

    text: str
    k: int = 8
    doc_ids: frozenset[str] | None = None


class VectorIndex(ABC):
    """Dense vectors keyed by chunk id (Milvus Lite, Milvus server, ...)."""

    @abstractmethod
    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    @abstractmethod
    def delete_document(self, doc_id: str) -> None: ...

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Remove these chunks' vectors (ids not there are ignored)."""
        raise NotImplementedError

    @abstractmethod
    def search(
        self, vector: np.ndarray, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, similarity) pairs, best first."""

    def search_many(
        self, vectors: Sequence[np.ndarray], k: int, doc_ids: frozenset[str] | None = None
    ) -> list[list[tuple[str, float]]]:
        """:meth:`search` for several query vectors (one call where the index allows it)."""
        return [self.search(v, k, doc_ids) for v in vectors]

    @abstractmethod
    def count(self) -> int: ...

    def flush(self) -> None:  # noqa: B027 - a no-op hook, overridden where writes are buffered
        """Make added vectors durable and searchable (no-op where writes already are)."""

    def close(self) -> None:  # noqa: B027 - a no-op hook, overridden where there is something to release
        ...


class KeywordIndex(ABC):
    """A persistent, incremental keyword (BM25) index keyed by chunk id."""

    @abstractmethod
    def add(self, chunks: Sequence[Chunk]) -> None: ...

    @abstractmethod
    def delete_document(self, doc_id: str) -> None: ...

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:  # noqa: B027 - a no-op by default
        """Remove these chunks from the index (ids not there are ignored); an index that
        follows the document store needs nothing."""

    @abstractmethod
    def search(
        self, text: str, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, score) pairs, best first."""

    @abstractmethod
    def count(self) -> int: ...

    def unseen(self, text: str) -> list[str]:
        """Words of ``text`` that no indexed chunk contains (an index that cannot tell: [])."""
        return []

    def frequencies(self, stems: Sequence[str]) -> dict[str, int] | None:
        """How many indexed chunks hold each stem (an index that cannot tell: None)."""
        return None

    def close(self) -> None:  # noqa: B027 - a no-op hook, overridden where there is something to release
        ...


class Leg(ABC):
    """One ranked list that fusion combines: ids with scores, best first. A leg writes its
    own timings (``<name>_ms``...) into ``timings``. Adding a leg (ArangoSearch, a reranked
    list) needs no edit of the fusion retriever."""

    name: str = "leg"
    timing_keys: tuple[str, ...] = ()
    gives_similarity: bool = False  # its scores are an absolute relevance (cosine), not ranks

    @abstractmethod
    def rank(self, query: Query, depth: int, timings: dict[str, float]) -> list[tuple[str, float]]:
        """(chunk_id, score) pairs, best first, at most ``depth``."""
