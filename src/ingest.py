"""Ingesting one document: name check, size check, parse, chunk, embed, and the atomic store.

The store step follows the protocol of ``shared_utils/stores/base.py``: the document is
recorded as pending, leftovers of an earlier attempt are removed from the indexes, vectors
and keywords are written, then chunks and links, then the document is marked ready. Any
failure (or Ctrl-C) removes what was written; a kill -9 leaves a pending record, which
``Library.open`` cleans up.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from shared_utils.documents.ocr import OcrOptions
from shared_utils.documents.pdf_worker import ParseLimits
from shared_utils.errors import (
    DocumentTooLarge,
    FileTooLarge,
    InvalidDocument,
    InvalidFileName,
    NoExtractableText,
)
from shared_utils.types import DocumentRecord, Progress, ProgressCallback
from src.settings import Settings, minimal_environ

if TYPE_CHECKING:
    from src.library import Library

logger = structlog.get_logger(__name__)

MAX_NAME_CHARS = 180


@dataclass
class IngestResult:
    """What happened to one document: ``status`` is "added" or "duplicate"."""

    doc: DocumentRecord
    status: str
    message: str
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class IngestOutcome:
    """One path of ``ingest_paths``: a result, or the error that stopped it."""

    path: Path
    result: IngestResult | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def safe_name(name: str | bytes) -> str:
    """A display name without directories, control characters or undecodable bytes.

    >>> safe_name("../../etc/passwd.pdf")
    'passwd.pdf'
    >>> safe_name(b"caf\\xe9 \\x1b[31mred.pdf")
    'caf_ [31mred.pdf'
    >>> safe_name("..\\\\..\\\\x.pdf")
    'x.pdf'
    >>> safe_name("../..")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shared_utils.errors.InvalidFileName: '../..' has no usable file name (...)
    """
    raw = name
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    else:  # names read from a folder carry undecodable bytes as surrogates
        name = name.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    name = unicodedata.normalize("NFC", name)
    name = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
                   for ch in name).replace("\ufffd", "_")
    base = [part for part in re.split(r"[/\\]", name) if part.strip(" .")]
    name = re.sub(r"\s+", " ", base[-1] if base else "").strip(" .")
    if not any(ch.isalnum() for ch in name):
        raise InvalidFileName(f"{raw!r} has no usable file name")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME_CHARS - len(ext) - 2] + "~." + ext) if dot and len(ext) <= 8 \
            else name[:MAX_NAME_CHARS]
    return name


def check_size(size: int, name: str, max_mb: int) -> None:
    if size > max_mb * 1024 * 1024:
        raise FileTooLarge(f"{name} is {size / 1e6:.1f} MB; the limit is {max_mb} MB")


def read_file(path: Path, max_mb: int) -> bytes:
    """The file's bytes; FileTooLarge before reading a file over the limit."""
    try:
        check_size(path.stat().st_size, safe_name(path.name), max_mb)
        with open(path, "rb") as fh:
            data = fh.read(max_mb * 1024 * 1024 + 1)
    except OSError as exc:
        raise InvalidDocument(f"Cannot read {path}: {exc.strerror or exc}",
                              hint="Check the path and that the file is readable.") from exc
    check_size(len(data), safe_name(path.name), max_mb)  # grew while we looked
    return data


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def ingest(lib: Library, data: bytes, name: str | bytes, progress: ProgressCallback) -> IngestResult:
    """Add one PDF to every store of ``lib``, or raise a typed error with nothing stored."""
    from shared_utils.documents.chunking import chunk_pages
    from shared_utils.documents.pdf import parse_document

    total = time.perf_counter()
    settings = lib.settings
    display = safe_name(name)
    check_size(len(data), display, settings.max_upload_mb)
    doc_id = hashlib.sha256(data).hexdigest()
    if (dup := _duplicate(lib, doc_id, display)) is not None:
        return dup
    timings: dict[str, float] = {}

    start = time.perf_counter()
    parsed = parse_document(data, name=display, timeout_s=settings.parse_timeout_s,
                            limits=parse_limits(settings), worker_env=minimal_environ(),
                            ocr=ocr_options(settings), progress=_parse_progress(progress))
    pages = parsed.pages
    timings["parse_ms"] = _ms(start)
    progress(Progress("parse", len(pages), len(pages), f"{len(pages)} pages"))

    start = time.perf_counter()
    embedder = lib.embedder
    chunks = chunk_pages(pages, doc_id=doc_id, doc_name=display,
                         count_tokens=embedder.count_tokens,
                         max_tokens=min(settings.chunk_tokens, embedder.max_text_tokens),
                         overlap_tokens=settings.chunk_overlap_tokens)
    if not chunks:
        raise NoExtractableText(f"{display} has no text to index")
    if len(chunks) > settings.max_chunks:
        raise DocumentTooLarge(f"{display} makes {len(chunks):,} passages; the limit is "
                               f"{settings.max_chunks:,} (OLYMPUS_MAX_CHUNKS)")
    timings["chunk_ms"] = _ms(start)
    progress(Progress("chunk", len(chunks), len(chunks), f"{len(chunks)} chunks"))

    start = time.perf_counter()
    vectors = embedder.encode([c.text for c in chunks], progress=progress)
    timings["embed_ms"] = _ms(start)

    start = time.perf_counter()
    record = DocumentRecord(id=doc_id, name=display, pages=len(pages), chunks=len(chunks),
                            size_bytes=len(data), added_at=time.time(),
                            parse_report=parsed.report.to_dict())
    with lib.write_lock:
        if (dup := _duplicate(lib, doc_id, display)) is not None:
            return dup  # the same bytes finished in another thread meanwhile
        _store(lib, record, chunks, vectors, progress,
               original=lambda: lib.originals.put(doc_id, data, parsed.words))
    timings["store_ms"] = _ms(start)
    timings["total_ms"] = _ms(total)
    record.status = "ready"
    progress(Progress("done", 1, 1, f"{display}: {len(pages)} pages, {len(chunks)} chunks"))
    notes = page_notes(pages, keep_hidden=settings.index_hidden_text)
    logger.info("library.ingested", doc_id=doc_id[:12], name=display, pages=len(pages),
                chunks=len(chunks), bytes=len(data), notes=notes, **timings)
    message = f"Added {display}: {len(pages)} pages, {len(chunks)} chunks"
    return IngestResult(record, "added", "; ".join([message, *notes]), timings)


def parse_limits(settings: Settings) -> ParseLimits:
    """The parse limits of ``settings`` (OLYMPUS_MAX_PAGES, ..._PARSE_MEMORY_MB...)."""
    return ParseLimits(max_pages=settings.max_pages, max_page_chars=settings.max_page_chars,
                       max_document_chars=settings.max_document_chars,
                       memory_mb=settings.parse_memory_mb,
                       keep_hidden=settings.index_hidden_text)


def page_notes(pages: list, *, keep_hidden: bool) -> list[str]:
    """What the user should know about the pages: hidden text, garbled text.

    >>> from shared_utils.types import Page
    >>> page_notes([Page(1, "x", ("garbled",)), Page(2, "y", ("hidden text",))],
    ...            keep_hidden=False)
    ['text a reader cannot see was left out on page 2', 'page 1 looks garbled (a font maps letters wrongly), so it may not be found by search']
    """
    def numbers(flag: str) -> str:
        found = [str(p.number) for p in pages if flag in p.flags]
        shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
        return ("page " if len(found) == 1 else "pages ") + shown if found else ""

    notes = []
    if hidden := numbers("hidden text"):
        what = "kept, marked as hidden," if keep_hidden else "left out"
        notes.append(f"text a reader cannot see was {what} on {hidden}")
    if garbled := numbers("garbled"):
        verb = "looks" if garbled.startswith("page ") else "look"
        notes.append(f"{garbled} {verb} garbled (a font maps letters wrongly), so it may not "
                     "be found by search")
    return notes


def ocr_options(settings: Settings) -> OcrOptions:
    """The OCR settings as the PDF parser takes them."""
    return OcrOptions(enabled=settings.ocr == "auto", languages=settings.ocr_languages,
                      page_timeout_s=settings.ocr_page_timeout_s)


def _parse_progress(progress: ProgressCallback):
    """Parser events -> Progress: "parse" per page read, "ocr" per page being OCR'd."""

    def report(kind: str, done: int, total: int, message: str) -> None:
        if kind in ("parse", "ocr"):
            progress(Progress(kind, done, total, message))

    return report


def _duplicate(lib: Library, doc_id: str, display: str) -> IngestResult | None:
    existing = lib.docstore.get_document(doc_id)
    if existing is None or existing.status != "ready":
        return None
    same = "" if existing.name == display else f" as {existing.name}"
    logger.info("library.duplicate", doc_id=doc_id[:12], name=display)
    return IngestResult(existing, "duplicate",
                        f"{display} is already in the library{same}; skipped", {})


def _store(lib: Library, record: DocumentRecord, chunks, vectors, progress, original) -> None:
    steps = 6
    stores = lib.stores
    stores.docstore.begin_document(record)
    try:
        original()  # the PDF for the page viewer; removed with the rest on a rollback
        progress(Progress("store", 1, steps, "recorded as pending"))
        stores.vectors.delete_document(record.id)  # leftovers of an interrupted attempt
        stores.keywords.delete_document(record.id)
        stores.vectors.add(chunks, vectors)
        stores.vectors.flush()
        progress(Progress("store", 2, steps, "vectors written"))
        stores.keywords.add(chunks)
        progress(Progress("store", 3, steps, "keywords written"))
        stores.docstore.add_chunks(record.id, chunks)
        progress(Progress("store", 4, steps, "chunks and links written"))
        stores.docstore.mark_ready(record.id, pages=record.pages, chunks=record.chunks)
        progress(Progress("store", steps, steps, "ready"))
    except BaseException as exc:
        logger.warning("library.ingest_rolled_back", doc_id=record.id[:12], name=record.name,
                       error=f"{type(exc).__name__}: {exc}")
        try:
            lib.remove_everywhere(record.id)
        except Exception as cleanup:  # noqa: BLE001 - the original error is re-raised below;
            # the pending record stays, so the next Library.open finishes the clean-up.
            logger.error("library.rollback_failed", doc_id=record.id[:12], error=str(cleanup))
        raise
