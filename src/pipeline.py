"""RAGPipeline: a library that answers; the one object of the API process (and of the UI
when it runs without the service).

It wires parts built elsewhere and adds what needs both:
- ``src/library/library.py``      Library: stores, ingestion (atomic, with progress), list, delete,
  search, recovery. The document methods below hand over to it unchanged: they are there so
  the pipeline provides the same ``Documents`` interface as the Library and, with the answer
  methods, the same ``Pipeline`` as ``src/service/client.py:RemotePipeline``
  (``src/protocols.py``), so the UI, the API, MCP and the CLI call one interface whichever
  object they hold.
- ``src/answer/answerer.py``       Answerer: prompt within a budget, backend chain, streamed events.
- its own: opening both in order, warming the embedder up in the background, and a health
  report over both with every secret scrubbed.

Created once per process (the UI keeps it in a module-level singleton); every method is
thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from shared_utils.errors import OlympusError
from shared_utils.types import Chunk, DocumentRecord, ProgressCallback, no_progress
from src.settings import Settings

if TYPE_CHECKING:
    from src.answer.answerer import Answerer
    from src.answer.answering import Answering
    from src.answer.options import AskOptions
    from src.events import AskEvent
    from src.library.library import IngestResult, Library, SearchResult
    from src.library.originals import Originals
    from src.models.backends import BackendPlan
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)


class RAGPipeline:
    def __init__(self, settings: Settings, *, library: Library, answerer: Answerer) -> None:
        self.settings = settings
        self.library = library
        self._answerer = answerer

    @classmethod
    def from_settings(cls, settings: Settings, *, profile: Profile | None = None) -> RAGPipeline:
        """Open the stores (recovering from an interrupted ingest) and build the parts."""
        from src.answer.answerer import Answerer
        from src.library.library import Library

        default_k = profile.top_k if profile is not None else 6
        library = Library.open(settings, default_k=default_k)
        answerer = Answerer.from_settings(settings, library=library, profile=profile)
        return cls(settings, library=library, answerer=answerer)

    # --- documents -------------------------------------------------------------------------
    def ingest_file(self, path: Path, *, progress: ProgressCallback = no_progress) -> IngestResult:
        return self.library.ingest_file(Path(path), progress=progress)

    def ingest_bytes(
        self, data: bytes, name: str, *, progress: ProgressCallback = no_progress
    ) -> IngestResult:
        return self.library.ingest_bytes(data, name, progress=progress)

    def documents(self) -> list[DocumentRecord]:
        return self.library.documents()

    def delete_document(self, doc_id: str) -> DocumentRecord:
        return self.library.delete_document(doc_id)

    @property
    def originals(self) -> Originals:
        """The kept original PDFs (and OCR word boxes) for the page viewer."""
        return self.library.originals

    def passages(self, doc_id: str) -> list[Chunk]:
        return self.library.passages(doc_id)

    # --- questions -------------------------------------------------------------------------
    def search(
        self, text: str, *, k: int | None = None, doc_ids: Sequence[str] | None = None
    ) -> SearchResult:
        return self.library.search(text, k=k, doc_ids=doc_ids)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = (),
        doc_ids: Sequence[str] | None = None,
        backend: str | None = None,
        options: AskOptions | None = None,
        owner: str = "",
    ) -> Iterator[AskEvent]:
        """Stream events: sources, place in line, status, tokens, backend switches, done.
        ``options``: this question's model, temperature and answer length (a chat's
        settings); ``owner``: who asks (a chat session, an API key), for a fair line."""
        return self._answerer.ask(
            question,
            history=history,
            doc_ids=doc_ids,
            backend=backend,
            options=options,
            owner=owner,
        )

    def backends(self) -> BackendPlan:
        """The backends the next question tries, in order, with their models (and why)."""
        return self._answerer.backend_choice.plan()

    def answering(self) -> Answering:
        """What writes the next answer: the engine's model, or the source extracts and why
        (``src/answer/answering.py``)."""
        return self._answerer.backend_choice.answering()

    # --- lifecycle -------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the embedding model and open the vector index now, so the first upload or
        question does not pay for them (several seconds on 2 cores)."""
        started = time.perf_counter()
        try:
            self.library.embedder.load()
            self.library.stores.vectors.count()
        except OlympusError as exc:  # reported by health(); the first real use says it again
            logger.warning("pipeline.warm_up.failed", error=str(exc))
            return
        logger.info("pipeline.warm_up", ms=round((time.perf_counter() - started) * 1000))

    def warm_up_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.warm_up, name="olympus-warm-up", daemon=True)
        thread.start()
        return thread

    def health(self) -> dict[str, dict[str, object]]:
        from shared_utils.redact import scrub

        health = self.library.health()
        health.update(self._answerer.backend_choice.health())
        return scrub(health, self.settings.secret_values())  # shown on the System page

    def close(self) -> None:
        self.library.close()
