"""The OCR'd pages of a document join after its text pages are indexed.

A PDF with a text layer on most pages and a few scanned ones is searchable as soon as its
text pages are stored (the parser leaves the scanned pages in the report's ``ocr_pending``);
then :func:`finish_ocr` reads those pages with Tesseract in the PDF worker, chunks them (each
run of consecutive pages on its own, so no passage spans a page that is not there), embeds
them and appends them to the ready document: vectors and keywords first, then the document
store in one transaction with the updated report. A page Tesseract cannot read, a worker that
fails or a crash in the middle loses nothing: the document keeps its text pages and its
report says which pages could not be read (:func:`interrupted`, at the next open).
"""

from __future__ import annotations

import time
from dataclasses import replace
from itertools import groupby
from typing import TYPE_CHECKING, Any

import structlog

from shared_utils.documents.triage import OcrPass, ParseReport
from shared_utils.errors import OlympusError
from shared_utils.types import (
    Chunk,
    DocumentRecord,
    Page,
    Progress,
    ProgressCallback,
    chunk_id,
)
from src.library.ingest import elapsed_ms, ocr_options, parse_limits
from src.settings import minimal_environ

if TYPE_CHECKING:
    from src.library.library import Library

logger = structlog.get_logger(__name__)

MAX_CHUNKS_PER_PAGE = 200  # a bound on one page's passages, for the clean-up after a crash
STAGE = "late_ocr"  # progress stage: the document is searchable, its scanned pages are read
INTERRUPTED = (
    "OCR was interrupted (the app stopped); delete the document and add it again to read this page"
)


def pending_message(pages: list[int]) -> str:
    """What the progress and the job say while the OCR goes on.

    >>> pending_message([3, 4, 9])
    'searchable; OCR of 3 pages continues (pp. 3, 4, 9)'
    """
    shown = ", ".join(map(str, pages[:8])) + (", ..." if len(pages) > 8 else "")
    noun = "page" if len(pages) == 1 else "pages"
    label = "p." if len(pages) == 1 else "pp."
    return f"searchable; OCR of {len(pages)} {noun} continues ({label} {shown})"


def finish_ocr(
    library: Library, data: bytes, record: DocumentRecord, progress: ProgressCallback
) -> DocumentRecord:
    """OCR the document's pending pages and append what they say; the updated record."""
    report = ParseReport.from_dict(record.parse_report)
    pending = list(report.ocr_pending)
    if not pending:
        return record
    started = time.perf_counter()
    progress(Progress(STAGE, 0, len(pending), pending_message(pending)))
    try:
        read = _read(library, data, record.name, pending, progress)
    except OlympusError as exc:  # the worker failed or ran out of time: the pages say why
        logger.warning("library.late_ocr_failed", doc_id=record.id[:12], error=exc.message)
        read = OcrPass(failed={p: f"OCR failed: {exc.message}" for p in pending})
    chunks = _chunks(library, record, read.texts)
    vectors = library.embedder.encode([c.text for c in chunks]) if chunks else None
    for number in pending:
        if number in read.texts:
            report.ocr_pages.append(number)
            if report.flagged.get(number) == "no text":
                del report.flagged[number]  # a scan, not a damaged text layer
        else:
            report.failed[number] = read.failed.get(number, "OCR gave no text")
    report.ocr_pages.sort()
    report.ocr_pending = []
    with library.write_lock:
        current = library.docstore.get_document(record.id)
        if current is None or current.status != "ready":
            return record  # deleted meanwhile: nothing to add to
        if chunks and vectors is not None:
            library.stores.vectors.add(chunks, vectors)
            library.stores.vectors.flush()
            library.stores.keywords.add(chunks)
        library.docstore.append_chunks(record.id, chunks, parse_report=report.to_dict())
        if read.words:
            library.originals.add_words(record.id, read.words)
    record = replace(record, chunks=record.chunks + len(chunks), parse_report=report.to_dict())
    logger.info(
        "library.late_ocr_done",
        doc_id=record.id[:12],
        pages=len(read.texts),
        failed=sorted(read.failed),
        chunks=len(chunks),
        ms=elapsed_ms(started),
    )
    progress(
        Progress(
            STAGE,
            len(pending),
            len(pending),
            f"OCR done: {len(read.texts)} of {len(pending)} pages read",
        )
    )
    return record


def _read(
    library: Library, data: bytes, name: str, pending: list[int], progress: ProgressCallback
) -> OcrPass:
    from shared_utils.documents.pdf import ocr_deferred_pages
    from shared_utils.documents.text import normalize_pages

    settings = library.settings

    def report(kind: str, done: int, total: int, message: str) -> None:
        if kind == "ocr":
            progress(Progress(STAGE, done - 1, total, f"searchable; {message}"))

    read = ocr_deferred_pages(
        data,
        name=name,
        pages=pending,
        ocr=ocr_options(settings),
        timeout_s=settings.parse_timeout_s,
        limits=parse_limits(settings),
        worker_env=minimal_environ(),
        progress=report,
    )
    numbers = sorted(read.texts)
    texts = normalize_pages([read.texts[n] for n in numbers])
    read.texts = {
        n: t for n, t in zip(numbers, texts, strict=True) if any(ch.isalnum() for ch in t)
    }
    for number in numbers:
        if number not in read.texts:
            read.failed.setdefault(number, "OCR found no readable text")
    return read


def _chunks(library: Library, record: DocumentRecord, texts: dict[int, str]) -> list[Chunk]:
    """Chunks of the OCR'd pages, numbered after the document's chunks; each run of
    consecutive pages chunked on its own."""
    from shared_utils.documents.chunking import chunk_pages

    settings, embedder = library.settings, library.embedder
    out: list[Chunk] = []
    numbers = sorted(texts)
    for _, run in groupby(enumerate(numbers), key=lambda pair: pair[1] - pair[0]):
        pages = [Page(number=n, text=texts[n]) for _, n in run]
        part = chunk_pages(
            pages,
            doc_id=record.id,
            doc_name=record.name,
            count_tokens=embedder.count_tokens,
            max_tokens=min(settings.chunk_tokens, embedder.max_text_tokens),
            overlap_tokens=settings.chunk_overlap_tokens,
        )
        for chunk in part:
            ordinal = record.chunks + len(out)
            out.append(replace(chunk, id=chunk_id(record.id, ordinal), ordinal=ordinal))
    return out


def unreadable_note(record: DocumentRecord) -> list[str]:
    """A note for the pages whose OCR gave nothing (the document keeps its other pages).

    >>> rec = DocumentRecord("x", "a.pdf", 3, 1, 1, 0.0, parse_report={"failed": {"2": "x"}})
    >>> unreadable_note(rec)
    ['page 2 could not be read (see its parse report)']
    """
    failed = sorted(ParseReport.from_dict(record.parse_report).failed)
    if not failed:
        return []
    which = ("page " if len(failed) == 1 else "pages ") + ", ".join(map(str, failed[:10]))
    return [f"{which} could not be read (see its parse report)"]


def interrupted(library: Any) -> list[str]:
    """Documents whose OCR a crash interrupted: the pending pages become unreadable ones
    (the document keeps what was indexed); their ids."""
    found = []
    for record in library.docstore.list_documents():
        report = ParseReport.from_dict(record.parse_report)
        if not report.ocr_pending:
            continue
        # the chunks of those pages may have reached the indexes before the crash (they
        # are written before the document store): their ids follow the document's
        orphans = [
            chunk_id(record.id, i)
            for i in range(
                record.chunks, record.chunks + MAX_CHUNKS_PER_PAGE * len(report.ocr_pending)
            )
        ]
        library.stores.vectors.delete_chunks(orphans)
        library.stores.keywords.delete_chunks(orphans)
        for number in report.ocr_pending:
            report.failed[number] = INTERRUPTED
        report.ocr_pending = []
        library.docstore.append_chunks(record.id, [], parse_report=report.to_dict())
        logger.warning(
            "library.late_ocr_interrupted", doc_id=record.id[:12], pages=sorted(report.failed)
        )
        found.append(record.id)
    return found
