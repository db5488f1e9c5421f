"""Preparing one document for the library: name and size checks, parse, chunk, embed.

:func:`prepare` needs only its inputs (the bytes, the settings, the embedder) and stores
nothing; ``Library.ingest_bytes`` (``src/library/library.py``) checks for a duplicate, calls it, and
owns the lock, the atomic store and the rollback.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from shared_utils.types import Chunk, DocumentRecord, Progress, ProgressCallback
from src.settings import Settings, minimal_environ

if TYPE_CHECKING:
    from shared_utils.embeddings import Embedder

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
class Prepared:
    """A parsed, chunked and embedded document, ready for the library to store."""

    record: DocumentRecord
    chunks: list[Chunk]
    vectors: Any
    words: Any  # OCR word boxes of the page viewer (``Originals.put``)
    notes: list[str]  # what the user should know (hidden or garbled text)
    timings: dict[str, float]

    @property
    def ocr_pending(self) -> list[int]:
        """Pages left for OCR after the text pages are stored (``src/library/late_ocr.py``)."""
        return list(self.record.parse_report.get("ocr_pending") or [])


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
    name = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in name
    ).replace("\ufffd", "_")
    base = [part for part in re.split(r"[/\\]", name) if part.strip(" .")]
    name = re.sub(r"\s+", " ", base[-1] if base else "").strip(" .")
    if not any(ch.isalnum() for ch in name):
        raise InvalidFileName(f"{raw!r} has no usable file name")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        name = (
            (stem[: MAX_NAME_CHARS - len(ext) - 2] + "~." + ext)
            if dot and len(ext) <= 8
            else name[:MAX_NAME_CHARS]
        )
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
        raise InvalidDocument(
            f"Cannot read {path}: {exc.strerror or exc}",
            hint="Check the path and that the file is readable.",
        ) from exc
    check_size(len(data), safe_name(path.name), max_mb)  # grew while we looked
    return data


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` value), to 0.1 ms."""
    return round((time.perf_counter() - start) * 1000, 1)


def document_id(data: bytes) -> str:
    """A document's id: the SHA-256 of its bytes (the same file is the same document)."""
    return hashlib.sha256(data).hexdigest()


def prepare(
    data: bytes,
    display: str,
    doc_id: str,
    *,
    settings: Settings,
    embedder: Embedder,
    progress: ProgressCallback,
) -> Prepared:
    """Parse, chunk and embed one PDF (nothing is stored); typed errors for a bad document."""
    from shared_utils.documents.chunking import chunk_pages
    from shared_utils.documents.pdf import parse_document

    timings: dict[str, float] = {}
    start = time.perf_counter()
    parsed = parse_document(
        data,
        name=display,
        timeout_s=settings.parse_timeout_s,
        limits=parse_limits(settings),
        worker_env=minimal_environ(),
        ocr=ocr_options(settings),
        progress=_parse_progress(progress),
    )
    pages = parsed.pages
    timings["parse_ms"] = elapsed_ms(start)
    progress(Progress("parse", len(pages), len(pages), f"{len(pages)} pages"))

    start = time.perf_counter()
    chunks = chunk_pages(
        pages,
        doc_id=doc_id,
        doc_name=display,
        count_tokens=embedder.count_tokens,
        max_tokens=min(settings.chunk_tokens, embedder.max_text_tokens),
        overlap_tokens=settings.chunk_overlap_tokens,
    )
    if not chunks:
        raise NoExtractableText(f"{display} has no text to index")
    if len(chunks) > settings.max_chunks:
        raise DocumentTooLarge(
            f"{display} makes {len(chunks):,} passages; the limit is "
            f"{settings.max_chunks:,} (OLYMPUS_MAX_CHUNKS)"
        )
    timings["chunk_ms"] = elapsed_ms(start)
    progress(Progress("chunk", len(chunks), len(chunks), f"{len(chunks)} chunks"))

    start = time.perf_counter()
    vectors = embedder.encode([c.text for c in chunks], progress=progress)
    timings["embed_ms"] = elapsed_ms(start)
    record = DocumentRecord(
        id=doc_id,
        name=display,
        pages=len(pages),
        chunks=len(chunks),
        size_bytes=len(data),
        added_at=time.time(),
        parse_report=parsed.report.to_dict(),
    )
    notes = page_notes(pages, keep_hidden=settings.index_hidden_text)
    return Prepared(record, chunks, vectors, parsed.words, notes, timings)


def parse_limits(settings: Settings) -> ParseLimits:
    """The parse limits of ``settings`` (OLYMPUS_MAX_PAGES, ..._PARSE_MEMORY_MB...)."""
    return ParseLimits(
        max_pages=settings.max_pages,
        max_page_chars=settings.max_page_chars,
        max_document_chars=settings.max_document_chars,
        memory_mb=settings.parse_memory_mb,
        keep_hidden=settings.index_hidden_text,
    )


def page_notes(pages: list, *, keep_hidden: bool) -> list[str]:
    """What the user should know about the pages: hidden text, garbled text.

    >>> from shared_utils.types import Page
    >>> page_notes([Page(1, "x", ("garbled",)), Page(2, "y", ("hidden text",))],
    ...            keep_hidden=False)
    ['text a reader cannot see was left out on page 2',
     'page 1 looks garbled (a font maps letters wrongly), so it may not be found by search']
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
        notes.append(
            f"{garbled} {verb} garbled (a font maps letters wrongly), so it may not "
            "be found by search"
        )
    return notes


def ocr_options(settings: Settings, *, defer: bool = True) -> OcrOptions:
    """The OCR settings as the PDF parser takes them; ``defer``: a document with text-layer
    pages is indexed first and its OCR'd pages join afterwards (``src/library/late_ocr.py``)."""
    return OcrOptions(
        enabled=settings.ocr == "auto",
        languages=settings.ocr_languages,
        page_timeout_s=settings.ocr_page_timeout_s,
        defer=defer,
    )


def _parse_progress(progress: ProgressCallback):
    """Parser events -> Progress: "parse" per page read, "ocr" per page being OCR'd."""

    def report(kind: str, done: int, total: int, message: str) -> None:
        if kind in ("parse", "ocr"):
            progress(Progress(kind, done, total, message))

    return report
