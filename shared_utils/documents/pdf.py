"""Parse PDF bytes into normalised pages, with page numbers kept and a hard deadline.

Text comes from PDFium (pypdfium2): on real manuals it extracts words with their spaces and
ligatures intact and is ~15x faster than pypdf (see ``benchmarks/parsers.py`` and
``docs/notes/documents.md``). With ``timeout_s`` the extraction runs in a reusable worker
process that is killed at the deadline (``parser_process.py``), so a pathological PDF cannot hang ingestion; the
worker's memory, the pages and characters it extracts and the size of its reply are capped
(:class:`ParseLimits`), so a small decompression bomb cannot take the machine's memory either.
Text a reader cannot see is left out (``hidden_text.py``), and pages whose text fails a
language check are flagged ``garbled`` (``gibberish.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import structlog

from shared_utils.documents.gibberish import looks_garbled
from shared_utils.documents.ocr import OcrOptions
from shared_utils.documents.parser_process import shared_worker
from shared_utils.documents.pdf_worker import ParseLimits, RawPage, extract_document, extract_pages
from shared_utils.documents.render import Word
from shared_utils.documents.sniff import describe
from shared_utils.documents.text import normalize_pages
from shared_utils.documents.triage import Notify, OcrPass, ParseReport
from shared_utils.errors import CorruptPdf, NoExtractableText, NotAPdf
from shared_utils.types import Page

logger = structlog.get_logger(__name__)

_EOF_WINDOW = 4096  # %%EOF must sit near the end of a complete PDF


def parse_pdf(
    data: bytes,
    *,
    name: str,
    timeout_s: float | None = None,
    limits: ParseLimits | None = None,
    worker_env: dict[str, str] | None = None,
) -> list[Page]:
    """Pages of a PDF (1-based numbers as viewers show them), text normalised.

    ``timeout_s``: deadline for text extraction, enforced by killing a worker process
    (None: extract in this process, no deadline and no memory cap). ``limits``: pages,
    characters, worker memory and reply size (defaults: :class:`ParseLimits`).
    ``worker_env``: the worker's environment (None: this process's). Raises NotAPdf,
    CorruptPdf, EncryptedPdf, EmptyPdf, NoExtractableText, ParseTimeout or DocumentTooLarge
    (all InvalidDocument).
    """
    check_pdf_bytes(data, name=name)
    limits = limits or ParseLimits()
    start = time.perf_counter()
    if timeout_s is None:
        raw = extract_pages(data, name=name, limits=limits)
    else:
        worker = shared_worker(limits.memory_mb, worker_env)
        raw = worker.extract(data, name=name, timeout_s=timeout_s, limits=limits)
    pages = _pages(raw, name, None)
    _log_parsed(name, pages, start)
    return pages


@dataclass
class ParsedPdf:
    """Normalised pages, what was done with each (the parse report) and OCR word boxes."""

    pages: list[Page]
    report: ParseReport
    words: dict[int, list[Word]] = field(default_factory=dict)


def parse_document(
    data: bytes,
    *,
    name: str,
    ocr: OcrOptions,
    timeout_s: float | None = None,
    limits: ParseLimits | None = None,
    worker_env: dict[str, str] | None = None,
    progress: Notify | None = None,
) -> ParsedPdf:
    """Like :func:`parse_pdf`, with per-page triage: pages without a usable text layer are
    OCR'd when ``ocr`` allows it (``progress(kind, page, pages, message)`` per page). The
    deadline grows by ``ocr.page_timeout_s`` for each page that is OCR'd."""
    check_pdf_bytes(data, name=name)
    limits = limits or ParseLimits()
    start = time.perf_counter()
    if timeout_s is None:
        extraction = extract_document(data, name, limits, ocr, progress)
    else:
        worker = shared_worker(limits.memory_mb, worker_env)
        extraction = worker.extract_document(
            data, name=name, timeout_s=timeout_s, limits=limits, ocr=ocr, progress=progress
        )
    pages = _pages(extraction.pages, name, extraction.report)
    _log_parsed(name, pages, start, ocr_pages=len(extraction.report.ocr_pages))
    return ParsedPdf(pages, extraction.report, extraction.words)


def ocr_deferred_pages(
    data: bytes,
    *,
    name: str,
    pages: list[int],
    ocr: OcrOptions,
    timeout_s: float,
    limits: ParseLimits | None = None,
    worker_env: dict[str, str] | None = None,
    progress: Notify | None = None,
) -> OcrPass:
    """The OCR of ``pages`` that :func:`parse_document` deferred (``ocr.defer``), in the
    worker, with the deadline growing by ``ocr.page_timeout_s`` per page."""
    limits = limits or ParseLimits()
    worker = shared_worker(limits.memory_mb, worker_env)
    return worker.ocr_pages(
        data,
        name=name,
        pages=pages,
        timeout_s=timeout_s,
        limits=limits,
        ocr=replace(ocr, defer=False),
        progress=progress,
    )


def _pages(raw: list[RawPage], name: str, report: ParseReport | None) -> list[Page]:
    texts = normalize_pages([page.text for page in raw])
    if not any(any(ch.isalnum() for ch in text) for text in texts):
        raise _no_text(name, len(texts), report)
    return [
        Page(number=i, text=text, flags=_flags(page, text))
        for i, (page, text) in enumerate(zip(raw, texts, strict=True), start=1)
    ]


def _log_parsed(name: str, pages: list[Page], start: float, **extra: object) -> None:
    flagged = {
        flag: [p.number for p in pages if flag in p.flags] for flag in ("garbled", "hidden text")
    }
    logger.info(
        "pdf.parsed",
        name=name,
        pages=len(pages),
        chars=sum(len(p.text) for p in pages),
        ms=round((time.perf_counter() - start) * 1000, 1),
        **extra,
        **{k.replace(" ", "_"): v[:20] for k, v in flagged.items() if v},
    )


def _no_text(name: str, pages: int, report: ParseReport | None) -> NoExtractableText:
    base = f"{name} has {pages} page(s) but no extractable text (scanned or image-only)"
    if report is None:
        return NoExtractableText(f"{base}; it was read without OCR")
    if report.ocr == "off":
        return NoExtractableText(
            f"{base} and OCR is off",
            hint="Set OLYMPUS_OCR=auto to read scanned pages with Tesseract.",
        )
    if report.ocr == "not installed":
        return NoExtractableText(
            f"{base} and Tesseract (OCR) is not installed",
            hint="Install it (bash scripts/install.sh, or apt-get install tesseract-ocr "
            "tesseract-ocr-eng) or run the PDF through OCR first.",
        )
    return NoExtractableText(
        f"{base}; OCR found no readable text either",
        hint="The scan may be too faint, or in another language: set OLYMPUS_OCR_LANGUAGES "
        "(e.g. eng+deu) to the languages installed for Tesseract.",
    )


def _flags(raw: RawPage, text: str) -> tuple[str, ...]:
    flags = []
    if raw.hidden_count:
        flags.append("hidden text")
    if looks_garbled(text):
        flags.append("garbled")
    return tuple(flags)


def check_pdf_bytes(data: bytes, *, name: str) -> None:
    """Cheap structural checks: PDF signature and an end-of-file marker (not truncated).

    >>> check_pdf_bytes(b"PK\\x03\\x04 a zip", name="x.pdf")
    Traceback (most recent call last):
    ...
    shared_utils.errors.NotAPdf: x.pdf is not a PDF file: it is a ZIP archive or a Word/Excel/...
    >>> check_pdf_bytes(b"", name="x.pdf")
    Traceback (most recent call last):
    ...
    shared_utils.errors.NotAPdf: x.pdf is not a PDF file: the file is empty (...)
    """
    if b"%PDF-" not in data[:1024]:
        raise NotAPdf(f"{name} is not a PDF file: {describe(data)}")
    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        raise CorruptPdf(f"{name} is truncated (no end-of-file marker); it was cut off")
