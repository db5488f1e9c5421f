"""Parse PDF bytes into normalised pages, with page numbers kept and a hard deadline.

Text comes from PDFium (pypdfium2): on real manuals it extracts words with their spaces and
ligatures intact and is ~15x faster than pypdf (see ``benchmarks/parsers.py`` and
``docs/notes/documents.md``). With ``timeout_s`` the extraction runs in a reusable worker
process that is killed at the deadline, so a pathological PDF cannot hang ingestion.
"""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from shared_utils import errors
from shared_utils.documents.ocr import OcrOptions
from shared_utils.documents.pdf_worker import _HEADER, extract_texts, write_frame
from shared_utils.documents.render import Word
from shared_utils.documents.text import normalize_pages
from shared_utils.documents.triage import Extraction, Notify, ParseReport, extract_document
from shared_utils.errors import CorruptPdf, InvalidDocument, NoExtractableText, NotAPdf
from shared_utils.types import Page

logger = structlog.get_logger(__name__)

_ROOT = str(Path(__file__).resolve().parents[2])
_WORKER_CMD = [
    sys.executable,
    "-c",
    f"import sys; sys.path.insert(0, {_ROOT!r}); "
    "from shared_utils.documents.pdf_worker import main; main()",
]
_EOF_WINDOW = 4096  # %%EOF must sit near the end of a complete PDF


def parse_pdf(data: bytes, *, name: str, timeout_s: float | None = None) -> list[Page]:
    """Pages of a PDF (1-based numbers as viewers show them), text normalised, no OCR.

    ``timeout_s``: deadline for text extraction, enforced by killing a worker process
    (None: extract in this process, no deadline). Raises NotAPdf, CorruptPdf, EncryptedPdf,
    EmptyPdf, NoExtractableText or ParseTimeout (all InvalidDocument).
    """
    check_pdf_bytes(data, name=name)
    start = time.perf_counter()
    if timeout_s is None:
        raw = extract_texts(data, name=name)
    else:
        raw = _shared_worker().extract(data, name=name, timeout_s=timeout_s)
    pages = _pages(raw, name, None)
    logger.info("pdf.parsed", name=name, pages=len(pages), chars=sum(len(p.text) for p in pages),
                ms=round((time.perf_counter() - start) * 1000, 1))
    return pages


@dataclass
class ParsedPdf:
    """Normalised pages, what was done with each (the parse report) and OCR word boxes."""

    pages: list[Page]
    report: ParseReport
    words: dict[int, list[Word]] = field(default_factory=dict)


def parse_document(data: bytes, *, name: str, ocr: OcrOptions, timeout_s: float | None = None,
                   progress: Notify | None = None) -> ParsedPdf:
    """Like :func:`parse_pdf`, with per-page triage: pages without a usable text layer are
    OCR'd when ``ocr`` allows it (``progress(kind, page, pages, message)`` per page). The
    deadline grows by ``ocr.page_timeout_s`` for each page that is OCR'd."""
    check_pdf_bytes(data, name=name)
    start = time.perf_counter()
    if timeout_s is None:
        extraction = extract_document(data, name, ocr, progress)
    else:
        extraction = _shared_worker().extract_document(
            data, name=name, timeout_s=timeout_s, ocr=ocr, progress=progress)
    pages = _pages(extraction.texts, name, extraction.report)
    report = extraction.report
    logger.info("pdf.parsed", name=name, pages=len(pages), chars=sum(len(p.text) for p in pages),
                ocr_pages=len(report.ocr_pages), flagged=len(report.flagged),
                ms=round((time.perf_counter() - start) * 1000, 1))
    return ParsedPdf(pages, report, extraction.words)


def _pages(raw: list[str], name: str, report: ParseReport | None) -> list[Page]:
    texts = normalize_pages(raw)
    if not any(any(ch.isalnum() for ch in text) for text in texts):
        raise _no_text(name, len(texts), report)
    return [Page(number=i, text=text) for i, text in enumerate(texts, start=1)]


def _no_text(name: str, pages: int, report: ParseReport | None) -> NoExtractableText:
    base = f"{name} has {pages} page(s) but no extractable text (scanned or image-only)"
    if report is None:
        return NoExtractableText(f"{base}; it was read without OCR")
    if report.ocr == "off":
        return NoExtractableText(f"{base} and OCR is off",
                                 hint="Set OLYMPUS_OCR=auto to read scanned pages with Tesseract.")
    if report.ocr == "not installed":
        return NoExtractableText(
            f"{base} and Tesseract (OCR) is not installed",
            hint="Install it (bash scripts/install.sh, or apt-get install tesseract-ocr "
                 "tesseract-ocr-eng) or run the PDF through OCR first.")
    return NoExtractableText(
        f"{base}; OCR found no readable text either",
        hint="The scan may be too faint, or in another language: set OLYMPUS_OCR_LANGUAGES "
             "(e.g. eng+deu) to the languages installed for Tesseract.")


def check_pdf_bytes(data: bytes, *, name: str) -> None:
    """Cheap structural checks: PDF signature and an end-of-file marker (not truncated).

    >>> check_pdf_bytes(b"PK\\x03\\x04 a zip", name="x.pdf")
    Traceback (most recent call last):
    ...
    shared_utils.errors.NotAPdf: x.pdf is not a PDF file (it starts with b'PK\\x03\\x04 a z') (...)
    """
    if b"%PDF-" not in data[:1024]:
        raise NotAPdf(f"{name} is not a PDF file (it starts with {data[:8]!r})")
    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        raise CorruptPdf(f"{name} is truncated (no end-of-file marker); it was cut off")


class PdfWorker:
    """A reusable extraction process; killed and restarted when a PDF overruns its deadline.

    Thread-safe: one extraction at a time (callers queue on a lock; the deadline starts when
    the extraction starts).
    """

    def __init__(self, command: list[str] | None = None) -> None:
        self._command = command or _WORKER_CMD
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def extract(self, data: bytes, *, name: str, timeout_s: float) -> list[str]:
        """Raw page texts of ``data``; raises ParseTimeout after ``timeout_s`` seconds."""
        return self._request((data, name), name, timeout_s, None)

    def extract_document(self, data: bytes, *, name: str, timeout_s: float, ocr: OcrOptions,
                         progress: Notify | None = None) -> Extraction:
        """Texts with per-page triage and OCR (see ``triage.extract_document``); the
        deadline grows by the OCR time limit of each page that is OCR'd."""
        return self._request((data, name, ocr), name, timeout_s, progress)

    def _request(self, request: tuple, name: str, timeout_s: float, progress: Notify | None):
        with self._lock:
            proc = self._send(request, name)
            deadline = time.monotonic() + timeout_s
            try:
                while (reply := self._read_reply(proc, deadline))[0] == "progress":
                    _, kind, done, total, message = reply
                    if kind == "more_time":
                        deadline += float(message)
                    elif progress is not None:
                        progress(kind, done, total, message)
            except TimeoutError:
                self._kill()
                raise errors.ParseTimeout(
                    f"{name}: text extraction took longer than {timeout_s:g} s "
                    "(OLYMPUS_PARSE_TIMEOUT_S, plus OLYMPUS_OCR_PAGE_TIMEOUT_S per OCR'd page) "
                    "and was stopped"
                ) from None
            except (BrokenPipeError, EOFError) as exc:
                code = self._kill()
                raise CorruptPdf(
                    f"{name}: the PDF parser crashed on this file (exit code {code})"
                ) from exc
        if reply[0] == "ok":
            return reply[1]
        _, kind, message = reply
        error_cls = getattr(errors, kind, None)
        if not (isinstance(error_cls, type) and issubclass(error_cls, InvalidDocument)):
            error_cls = CorruptPdf
        raise error_cls(message)

    def close(self) -> None:
        """Stop the worker process (it is restarted on the next extraction)."""
        with self._lock:
            self._kill()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def _send(self, request: tuple, name: str) -> subprocess.Popen[bytes]:
        """Send a request; a worker that died while idle is replaced once."""
        for attempt in (1, 2):
            proc = self._ensure_started()
            try:
                write_frame(proc.stdin, request)  # type: ignore[arg-type]
                return proc
            except BrokenPipeError:
                code = self._kill()
                if attempt == 2:
                    raise CorruptPdf(
                        f"{name}: the PDF parser process exits at start (code {code})"
                    ) from None
                logger.warning("pdf.worker_died_idle", code=code)
        raise AssertionError("unreachable")

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
            )
            logger.debug("pdf.worker_started", pid=self._proc.pid)
        return self._proc

    def _kill(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream:
                stream.close()
        return code

    @staticmethod
    def _read_reply(proc: subprocess.Popen[bytes], deadline: float) -> tuple:
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        header = _read_exact(fd, _HEADER.size, deadline)
        return pickle.loads(_read_exact(fd, _HEADER.unpack(header)[0], deadline))


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError
        part = os.read(fd, min(n - len(buf), 1 << 20))
        if not part:
            raise EOFError("worker exited")
        buf += part
    return bytes(buf)


_worker: PdfWorker | None = None
_worker_lock = threading.Lock()


def _shared_worker() -> PdfWorker:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = PdfWorker()
        return _worker

