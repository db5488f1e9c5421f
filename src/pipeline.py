"""RAGPipeline: the one object the CLI and the UI talk to.

It only wires parts built elsewhere:
- ``src/library.py``      Library: stores, ingestion (atomic, with progress), list, delete, recovery
- ``shared_utils/retrieval/hybrid.py``  HybridRetriever: dense + BM25 fused with RRF
- ``src/answer.py``       Answerer: prompt within a budget, backend chain, streamed events

Created once per process (the UI uses ``st.cache_resource``); every method is thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shared_utils.types import DocumentRecord, ProgressCallback, no_progress
from src.settings import Settings

if TYPE_CHECKING:
    from src.events import AskEvent
    from src.library import IngestResult, Library, SearchResult


class RAGPipeline:
    def __init__(self, settings: Settings, *, library: "Library", answerer=None) -> None:
        self.settings = settings
        self.library = library
        self._answerer = answerer

    @classmethod
    def from_settings(cls, settings: Settings, *, profile=None) -> "RAGPipeline":
        """Open the stores (recovering from an interrupted ingest) and build the parts."""
        from src.library import Library

        library = Library.open(settings)
        return cls(settings, library=library, answerer=_make_answerer(settings, library, profile))

    # --- documents -------------------------------------------------------------------------
    def ingest_file(self, path: Path, *, progress: ProgressCallback = no_progress) -> "IngestResult":
        return self.library.ingest_file(Path(path), progress=progress)

    def ingest_bytes(
        self, data: bytes, name: str, *, progress: ProgressCallback = no_progress
    ) -> "IngestResult":
        return self.library.ingest_bytes(data, name, progress=progress)

    def documents(self) -> list[DocumentRecord]:
        return self.library.documents()

    def delete_document(self, doc_id: str) -> DocumentRecord:
        return self.library.delete_document(doc_id)

    # --- questions -------------------------------------------------------------------------
    def search(
        self, text: str, *, k: int | None = None, doc_ids: Sequence[str] | None = None
    ) -> "SearchResult":
        return self.library.search(text, k=k, doc_ids=doc_ids)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = (),
        doc_ids: Sequence[str] | None = None,
        backend: str | None = None,
    ) -> Iterator["AskEvent"]:
        """Stream events: sources, status, tokens, backend switches, done."""
        if self._answerer is None:
            raise RuntimeError("answering is not wired yet")
        return self._answerer.ask(question, history=history, doc_ids=doc_ids, backend=backend)

    # --- lifecycle -------------------------------------------------------------------------
    def health(self) -> dict[str, dict[str, object]]:
        health = self.library.health()
        if self._answerer is not None:
            health.update(self._answerer.health())
        return health

    def close(self) -> None:
        self.library.close()


def _make_answerer(settings: Settings, library: "Library", profile):
    try:
        from src.answer import Answerer
    except ModuleNotFoundError:
        return None
    return Answerer.from_settings(settings, library=library, profile=profile)
