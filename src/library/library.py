"""Library: the documents of one data dir, their stores, ingestion, search and deletion.

``Library.open`` opens the stores, removes leftovers of an interrupted ingest (documents
still pending after a crash or kill -9) from every store, and builds the embedder (loaded
lazily: listing documents never imports torch) and the hybrid retriever. Every method is
thread-safe; writes (the store step of an ingest, deletes) are serialised by one lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import structlog

from shared_utils.errors import DocumentNotFound, OlympusError
from shared_utils.retrieval.base import Query

# SearchResult lives in shared_utils.types: the CLI's remote path builds one without loading
# the stores' modules
from shared_utils.types import (
    Chunk,
    DocumentRecord,
    Progress,
    ProgressCallback,
    ScoredChunk,
    SearchResult,
    chunk_id,
    no_progress,
)
from src.answer.abstention import absent_names, weights
from src.answer.caveat import unmentioned
from src.answer.question import check_question
from src.library import late_ocr
from src.library.doc_ids import resolve as resolve_doc_id
from src.library.ingest import (
    IngestOutcome,
    IngestResult,
    Prepared,
    check_size,
    document_id,
    elapsed_ms,
    prepare,
    read_file,
    safe_name,
)
from src.library.late_ocr import finish_ocr, unreadable_note
from src.library.originals import Originals
from src.library.stores import Stores, open_stores
from src.settings import Settings

logger = structlog.get_logger(__name__)

__all__ = ["IngestOutcome", "IngestResult", "Library", "SearchResult"]


class Library:
    """Documents, their stores and hybrid search over them."""

    def __init__(self, settings: Settings, stores: Stores, embedder, *, default_k: int = 6) -> None:
        from shared_utils.retrieval.hybrid import HybridRetriever

        self.settings = settings
        self.stores = stores
        self.docstore = stores.docstore
        self.embedder = embedder
        self.default_k = default_k
        self.write_lock = threading.RLock()
        self._originals = Originals(settings.data.originals)
        self.retriever = HybridRetriever(
            embedder=embedder,
            vectors=stores.vectors,
            keywords=stores.keywords,
            docstore=stores.docstore,
            rrf_k=settings.rrf_k,
            dense_weight=settings.dense_weight,
            bm25_weight=settings.bm25_weight,
            neighbour_hops=settings.neighbour_hops,
        )

    @property
    def originals(self) -> Originals:
        """The kept original PDFs (and OCR word boxes) for the page viewer."""
        return self._originals

    @classmethod
    def open(cls, settings: Settings, *, default_k: int = 6) -> Library:
        """Open (or create) the library of ``settings.data_dir`` and recover from a crash."""
        from shared_utils.embeddings import get_embedder
        from src.library.embedding_record import choose_embedding

        start = time.perf_counter()
        configured = get_embedder(
            settings.embedding_model,
            settings.embedding_device,
            settings.resolved_embedding_batch_size,
            settings.resolved_embedding_precision,
        )
        stores = open_stores(settings, configured.dimension)
        try:
            choice = choose_embedding(settings, has_documents=bool(stores.docstore.ready_ids()))
            embedder = get_embedder(
                settings.embedding_model,
                settings.embedding_device,
                settings.resolved_embedding_batch_size,
                choice.precision,
            )
            library = cls(settings, stores, embedder, default_k=default_k)
            library.recover()
        except BaseException:
            stores.close()
            raise
        logger.info(
            "library.opened",
            data_dir=str(settings.data_dir),
            documents=len(stores.docstore.list_documents()),
            ms=round((time.perf_counter() - start) * 1000, 1),
        )
        return library

    # --- recovery and removal ----------------------------------------------------------------
    def recover(self) -> list[str]:
        """Remove documents left pending by an interrupted ingest from every store."""
        pending = self.docstore.pending_documents()
        for doc_id in pending:
            logger.warning("library.recovering_interrupted_ingest", doc_id=doc_id[:12])
            self.remove_everywhere(doc_id)
        late_ocr.interrupted(self)  # ready, with pages whose OCR a crash stopped
        if self.stores.keywords.count() == 0 and self.docstore.ready_ids():
            self.rebuild_keywords()  # e.g. the keyword index file was deleted or is new
        keep = self.docstore.ready_ids() | set(self.docstore.pending_documents())
        self.originals.sweep(keep)  # files a crash left behind
        return pending

    def rebuild_keywords(self) -> int:
        """Re-index every ready chunk in the keyword index from the document store."""
        start, n = time.perf_counter(), 0
        with self.write_lock:
            for batch in self.docstore.iter_chunks(batch_size=2000):
                self.stores.keywords.add(batch)
                n += len(batch)
        logger.warning(
            "library.keyword_index_rebuilt",
            chunks=n,
            ms=round((time.perf_counter() - start) * 1000, 1),
        )
        return n

    def remove_everywhere(self, doc_id: str) -> None:
        """Delete ``doc_id`` from the document store first (it disappears at once), then
        from the keyword and vector indexes, and its original PDF."""
        with self.write_lock:
            self.docstore.delete_document(doc_id)
            self.stores.keywords.delete_document(doc_id)
            self.stores.vectors.delete_document(doc_id)
            self.originals.delete(doc_id)

    # --- documents ---------------------------------------------------------------------------
    def ingest_bytes(
        self, data: bytes, name: str | bytes, *, progress: ProgressCallback = no_progress
    ) -> IngestResult:
        """Add one PDF to every store, or raise a typed error with nothing stored.

        A duplicate (the same bytes, already ready) is skipped before parsing; parsing,
        chunking and embedding (``src/library/ingest.py:prepare``) run outside the write lock; the
        store step runs under it and removes what it wrote on any failure."""
        total = time.perf_counter()
        display = safe_name(name)
        check_size(len(data), display, self.settings.max_upload_mb)
        doc_id = document_id(data)
        if (dup := self._duplicate(doc_id, display)) is not None:
            return dup
        prepared = prepare(
            data, display, doc_id, settings=self.settings, embedder=self.embedder, progress=progress
        )
        record, timings = prepared.record, prepared.timings
        start = time.perf_counter()
        with self.write_lock:
            if (dup := self._duplicate(doc_id, display)) is not None:
                return dup  # the same bytes finished in another thread meanwhile
            self._store(
                prepared,
                progress,
                original=lambda: self.originals.put(doc_id, data, prepared.words),
            )
        timings["store_ms"] = elapsed_ms(start)
        record.status = "ready"
        if prepared.ocr_pending:  # searchable now; the OCR'd pages join when read
            start = time.perf_counter()
            record = finish_ocr(self, data, record, progress)
            timings["late_ocr_ms"] = elapsed_ms(start)
            prepared.notes.extend(unreadable_note(record))
        timings["total_ms"] = elapsed_ms(total)
        progress(Progress("done", 1, 1, f"{display}: {record.pages} pages, {record.chunks} chunks"))
        logger.info(
            "library.ingested",
            doc_id=doc_id[:12],
            name=display,
            pages=record.pages,
            chunks=record.chunks,
            bytes=len(data),
            notes=prepared.notes,
            **timings,
        )
        message = f"Added {display}: {record.pages} pages, {record.chunks} chunks"
        return IngestResult(record, "added", "; ".join([message, *prepared.notes]), timings)

    def _duplicate(self, doc_id: str, display: str) -> IngestResult | None:
        existing = self.docstore.get_document(doc_id)
        if existing is None or existing.status != "ready":
            return None
        same = "" if existing.name == display else f" as {existing.name}"
        logger.info("library.duplicate", doc_id=doc_id[:12], name=display)
        return IngestResult(
            existing, "duplicate", f"{display} is already in the library{same}; skipped", {}
        )

    def _store(
        self, prepared: Prepared, progress: ProgressCallback, original: Callable[[], object]
    ) -> None:
        """The store protocol of ``shared_utils/stores/base.py``: pending record, leftovers
        of an earlier attempt removed, vectors, keywords, chunks and links, ready. Any failure
        (or Ctrl-C) removes what was written; a kill -9 leaves a pending record, which
        :meth:`recover` cleans up at the next open."""
        record, chunks, steps, stores = prepared.record, prepared.chunks, 6, self.stores
        stores.docstore.begin_document(record)
        try:
            original()  # the PDF for the page viewer; removed with the rest on a rollback
            progress(Progress("store", 1, steps, "recorded as pending"))
            stores.vectors.delete_document(record.id)  # leftovers of an interrupted attempt
            stores.keywords.delete_document(record.id)
            stores.vectors.add(chunks, prepared.vectors)
            stores.vectors.flush()
            progress(Progress("store", 2, steps, "vectors written"))
            stores.keywords.add(chunks)
            progress(Progress("store", 3, steps, "keywords written"))
            stores.docstore.add_chunks(record.id, chunks)
            progress(Progress("store", 4, steps, "chunks and links written"))
            stores.docstore.mark_ready(record.id, pages=record.pages, chunks=record.chunks)
            progress(Progress("store", steps, steps, "ready"))
        except BaseException as exc:
            logger.warning(
                "library.ingest_rolled_back",
                doc_id=record.id[:12],
                name=record.name,
                error=f"{type(exc).__name__}: {exc}",
            )
            try:
                self.remove_everywhere(record.id)
            except Exception as cleanup:  # noqa: BLE001 - the original error is re-raised below;
                # the pending record stays, so the next open finishes the clean-up.
                logger.error("library.rollback_failed", doc_id=record.id[:12], error=str(cleanup))
            raise

    def ingest_file(
        self, path: Path | str, *, progress: ProgressCallback = no_progress
    ) -> IngestResult:
        """Ingest one PDF file (FileTooLarge before reading a file over the limit)."""
        path = Path(path)
        data = read_file(path, self.settings.max_upload_mb)
        return self.ingest_bytes(data, path.name, progress=progress)

    def ingest_paths(
        self, paths: Iterable[Path | str], *, progress: ProgressCallback = no_progress
    ) -> list[IngestOutcome]:
        """Ingest files and folders (recursively, ``*.pdf``); a bad file does not stop the rest."""
        outcomes = []
        for path in expand_paths(paths):
            try:
                outcomes.append(
                    IngestOutcome(path, result=self.ingest_file(path, progress=progress))
                )
            except OlympusError as exc:
                logger.warning("library.ingest_failed", path=str(path), error=str(exc))
                outcomes.append(IngestOutcome(path, error=exc))
        return outcomes

    def documents(self) -> list[DocumentRecord]:
        """Ready documents, newest first."""
        return self.docstore.list_documents()

    def passages(self, doc_id: str) -> list[Chunk]:
        """Every passage of a ready document (its id or a unique prefix), in reading order (MCP's
        document resources)."""
        doc = resolve_doc_id(self.documents(), doc_id)
        ids = [chunk_id(doc.id, i) for i in range(doc.chunks)]
        # OCR'd pages may join after the rest (src/library/late_ocr.py): page order first
        return sorted(self.docstore.get_chunks(ids), key=lambda c: (c.page_start, c.ordinal))

    def delete_document(self, doc_id: str) -> DocumentRecord:
        """Remove a document (its id or a unique prefix) from every store; DocumentNotFound when
        it is not there."""
        record = self.docstore.get_document(doc_id) or self.docstore.get_document(
            resolve_doc_id(self.documents(), doc_id).id
        )
        if record is None:
            raise DocumentNotFound(f"No document has the id {doc_id!r}.")
        doc_id = record.id
        self.remove_everywhere(doc_id)
        logger.info("library.deleted", doc_id=doc_id[:12], name=record.name)
        return record

    # --- search ------------------------------------------------------------------------------
    def search(
        self, text: str, *, k: int | None = None, doc_ids: Sequence[str] | None = None
    ) -> SearchResult:
        """Hybrid search; InvalidQuery for an empty or over-long query."""
        query = check_question(text, self.settings.max_query_chars, what="query")
        k = k or self.settings.top_k or self.default_k
        scope = frozenset(doc_ids) if doc_ids is not None else None
        results, timings = self.retriever.retrieve_with_timings(Query(query, k, scope))
        logger.info("library.searched", chars=len(query), k=k, hits=len(results), **timings)
        return SearchResult(query=query, results=results, timings=timings)

    def similarities(self, text: str, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of ``text`` (as a query) to each of ``texts`` (as passages)."""
        if not texts:
            return []
        query = self.embedder.encode_query(text)
        return (self.embedder.encode(list(texts)) @ query).tolist()

    def absent_names(self, text: str) -> list[str]:
        """The names in ``text`` that no indexed document mentions (see src/answer/abstention.py)."""
        return absent_names(text, self.stores.keywords, self.stores.docstore)

    def unmentioned(self, text: str, sources: Sequence[ScoredChunk]) -> list[str]:
        """The words carrying ``text`` that none of ``sources`` holds (src/answer/caveat.py)."""
        return unmentioned(text, sources, self.stores.keywords, self.stores.docstore)

    def term_weights(self, text: str) -> dict[str, float]:
        """The content words of ``text``, weighted by their rarity here (abstention's coverage)."""
        return weights(text, self.stores.keywords)

    # --- lifecycle ---------------------------------------------------------------------------
    def health(self) -> dict[str, dict[str, object]]:
        """{<vector index name>, "keyword_index", "docstore", "embedder"} -> {"ok", "detail"}."""
        return {
            getattr(self.stores.vectors, "name", "vectors"): _health(self.stores.vectors),
            "keyword_index": _health(self.stores.keywords),
            "docstore": _health(self.docstore),
            "embedder": self._embedder_health(),
        }

    def _embedder_health(self) -> dict[str, object]:
        try:
            dim = self.embedder.dimension
        except OlympusError as exc:
            return {"ok": False, "detail": str(exc)}
        return {
            "ok": True,
            "detail": f"{self.settings.embedding_model} ({dim}-d, {self.embedder.precision})",
        }

    def close(self) -> None:
        self.stores.close()


def _health(part) -> dict[str, object]:
    check = getattr(part, "health", None)
    if check is None:
        return {"ok": True, "detail": type(part).__name__}
    try:
        return dict(check())
    except OlympusError as exc:
        return {"ok": False, "detail": str(exc)}


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; folders walked recursively for ``*.pdf`` (any case), sorted."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = [
                Path(root) / f
                for root, _dirs, files in os.walk(path)
                for f in files
                if f.lower().endswith(".pdf")
            ]
            out.extend(sorted(found))
        else:
            out.append(path)
    return out
