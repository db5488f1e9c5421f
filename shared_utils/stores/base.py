"""The document-store interface: documents, chunks and their links.

Implemented by the embedded SQLite store (``sqlite.py``) and the ArangoDB store
(``arango.py``); one contract test suite (tests/contract/) runs against both.

Links: document -> chunk ("has_chunk") and chunk -> next chunk ("next").

Atomic ingest protocol: ``begin_document`` records the document with status "ingesting";
chunks are added; the vector and keyword indexes are written; then ``mark_ready``. Readers
only see "ready" documents. At start-up, ``pending_documents()`` lists leftovers of an
interrupted ingest (crash, kill -9), which the caller removes from every store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

from shared_utils.types import Chunk, DocumentRecord


class DocumentStore(ABC):
    """Documents, chunks, and links. Implementations must be safe for use from threads."""

    name: str = "abstract"

    @abstractmethod
    def begin_document(self, doc: DocumentRecord) -> None:
        """Record ``doc`` with status "ingesting" (replacing a previous pending record)."""

    @abstractmethod
    def add_chunks(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        """Store chunks of a pending document, with has_chunk and next links (in order)."""

    @abstractmethod
    def mark_ready(self, doc_id: str, *, pages: int, chunks: int) -> None:
        """Make the document visible to readers."""

    @abstractmethod
    def append_chunks(self, doc_id: str, chunks: Sequence[Chunk], *, parse_report: dict) -> None:
        """Add chunks to a ready document (pages read after it was indexed, such as OCR'd
        pages; next-links only among the new chunks) and replace its parse report, in one
        step: readers see the chunks and the report that lists them together."""

    @abstractmethod
    def get_document(self, doc_id: str) -> DocumentRecord | None:
        """The document, whatever its status, or None."""

    @abstractmethod
    def list_documents(self) -> list[DocumentRecord]:
        """Ready documents, newest first."""

    @abstractmethod
    def pending_documents(self) -> list[str]:
        """Ids of documents left in status "ingesting"."""

    @abstractmethod
    def delete_document(self, doc_id: str) -> bool:
        """Delete the document, its chunks and links in one transaction; False if absent."""

    @abstractmethod
    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """Chunks by id, in the order asked, skipping unknown ids and non-ready documents."""

    @abstractmethod
    def neighbours(self, chunk_id: str, hops: int = 1) -> list[Chunk]:
        """Chunks within ``hops`` next-links of ``chunk_id`` (either direction), in order."""

    @abstractmethod
    def iter_chunks(self, batch_size: int = 1000) -> Iterator[list[Chunk]]:
        """All chunks of ready documents, in batches (used to rebuild indexes)."""

    @abstractmethod
    def ready_ids(self) -> set[str]:
        """Ids of ready documents (cheap; used to filter index hits)."""

    def health(self) -> dict[str, object]:
        """{"ok": bool, "detail": str} for the System page and ``doctor``."""
        return {"ok": True, "detail": self.name}

    def close(self) -> None:  # noqa: B027 - a no-op hook for stores that hold nothing open
        """Release connections and files."""
