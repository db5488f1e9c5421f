"""The two interfaces every layer holds: ``Documents`` (a library) and ``Pipeline`` (a library
that answers).

Three objects provide them, so each caller is written once: ``src/library/library.py:Library``
(this process's stores: ``Documents`` only), ``src/pipeline.py:RAGPipeline`` (a Library with
the answer chain: the one object of the API and UI processes) and
``src/service/client.py:RemotePipeline`` (the running service over HTTP). They are typed so
a checker follows a question from the chat page to the engine; this module imports nothing
heavy (the types below are only annotations), and
``tests/unit/test_documents_interface.py`` keeps the three in step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared_utils.types import Chunk, DocumentRecord, ProgressCallback, SearchResult
    from src.answer.answering import Answering
    from src.answer.options import AskOptions
    from src.events import AskEvent
    from src.library.ingest import IngestResult
    from src.library.originals import Originals
    from src.models.backends import BackendPlan


class Ingests(Protocol):
    """What the upload queue (``src/library/jobs.py``) calls."""

    def ingest_bytes(
        self, data: bytes, name: str, *, progress: ProgressCallback = ...
    ) -> IngestResult: ...


class Documents(Ingests, Protocol):
    """Documents and search, as the UI, the API, MCP and the CLI call them."""

    @property
    def originals(self) -> Originals: ...

    def ingest_file(self, path: Path, *, progress: ProgressCallback = ...) -> IngestResult: ...

    def documents(self) -> list[DocumentRecord]: ...

    def passages(self, doc_id: str) -> list[Chunk]: ...

    def delete_document(self, doc_id: str) -> DocumentRecord: ...

    def search(
        self, text: str, *, k: int | None = ..., doc_ids: Sequence[str] | None = ...
    ) -> SearchResult: ...

    def close(self) -> None: ...


class Pipeline(Documents, Protocol):
    """A library that answers: what the chat page, the API, MCP and the CLI hold."""

    def ask(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = ...,
        doc_ids: Sequence[str] | None = ...,
        backend: str | None = ...,
        options: AskOptions | None = ...,
        owner: str = ...,
    ) -> Iterator[AskEvent]:
        """Stream events: sources, place in line, status, tokens, backend switches, done."""
        ...

    def backends(self) -> BackendPlan:
        """The backends the next question tries, in order, with their models (and why)."""
        ...

    def answering(self) -> Answering:
        """What writes the next answer: the engine's model, or the source extracts and why."""
        ...

    def health(self) -> dict[str, dict[str, object]]: ...

    def warm_up_in_background(self) -> object: ...
