"""Retrieval interfaces. Every retriever returns ``list[ScoredChunk]``.

``Retriever.retrieve`` is public and concrete (validation, timing, logging);
subclasses implement ``_retrieve``. Index classes store and search ids only; the document
store turns ids into chunks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared_utils.types import Chunk, ScoredChunk


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

    @abstractmethod
    def search(
        self, vector: np.ndarray, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, similarity) pairs, best first."""

    @abstractmethod
    def count(self) -> int: ...

    def flush(self) -> None:
        """Make added vectors durable and searchable (no-op where writes already are)."""

    def close(self) -> None: ...


class KeywordIndex(ABC):
    """A persistent, incremental keyword (BM25) index keyed by chunk id."""

    @abstractmethod
    def add(self, chunks: Sequence[Chunk]) -> None: ...

    @abstractmethod
    def delete_document(self, doc_id: str) -> None: ...

    @abstractmethod
    def search(
        self, text: str, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, score) pairs, best first."""

    @abstractmethod
    def count(self) -> int: ...

    def close(self) -> None: ...


class Retriever(ABC):
    """Base retriever: ``retrieve`` owns the sequence, ``_retrieve`` is the hook."""

    name: str = "retriever"

    def retrieve(self, query: Query) -> list[ScoredChunk]:
        if query.k <= 0:
            return []
        return self._retrieve(query)

    @abstractmethod
    def _retrieve(self, query: Query) -> list[ScoredChunk]: ...
