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
from pathlib import Path

import structlog

from shared_utils import errors
from shared_utils.documents.pdf_worker import _HEADER, extract_texts, write_frame
from shared_utils.documents.text import normalize_pages
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
    """Pages of a PDF (1-based numbers as viewers show them), text normalised.

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
    texts = normalize_pages(raw)
    if not any(any(ch.isalnum() for ch in text) for text in texts):
        raise NoExtractableText(
            f"{name} has {len(texts)} page(s) but no extractable text (scanned or image-only); "
            "OCR is not available in Olympus"
        )
    logger.info(
        "pdf.parsed", name=name, pages=len(texts), chars=sum(map(len, texts)),
        ms=round((time.perf_counter() - start) * 1000, 1),
    )
    return [Page(number=i, text=text) for i, text in enumerate(texts, start=1)]


_SIGNATURES = (
    (b"PK\x03\x04", "looks like a ZIP archive (a Word, Excel or OpenDocument file is one)"),
    (b"\xd0\xcf\x11\xe0", "looks like an old Microsoft Office file (.doc, .xls)"),
    (b"\x89PNG", "looks like a PNG image"),
    (b"\xff\xd8\xff", "looks like a JPEG image"),
    (b"GIF8", "looks like a GIF image"),
    (b"II*\x00", "looks like a TIFF image"),
    (b"MM\x00*", "looks like a TIFF image"),
    (b"{\\rtf", "looks like an RTF document"),
)


def describe_bytes(data: bytes) -> str:
    """What a file that is not a PDF looks like, in words (for "it ..." messages).

    >>> describe_bytes(b"")
    'is empty (0 bytes)'
    >>> describe_bytes(b"PRETTY_NAME=Debian")
    'looks like a text file (it begins “PRETTY_NAME=Debian”)'
    >>> describe_bytes(b"<!DOCTYPE html><html>")
    'looks like a web page (HTML)'
    """
    if not data.strip():
        return "is empty (0 bytes)" if not data else "contains only blank space"
    for magic, words in _SIGNATURES:
        if data.startswith(magic):
            return words
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "is not a document Olympus can read (binary data of an unknown kind)"
    if text.lstrip().lower().startswith(("<!doctype html", "<html")):
        return "looks like a web page (HTML)"
    first = " ".join(text.split())[:40]
    return f"looks like a text file (it begins “{first}”)"


def check_pdf_bytes(data: bytes, *, name: str) -> None:
    """Cheap structural checks: PDF signature and an end-of-file marker (not truncated).

    >>> check_pdf_bytes(b"PK\\x03\\x04 a zip", name="x.pdf")
    Traceback (most recent call last):
    ...
    shared_utils.errors.NotAPdf: x.pdf is not a PDF file: it looks like a ZIP archive (a Word, Excel or OpenDocument file is one) (...)
    """
    if b"%PDF-" not in data[:1024]:
        raise NotAPdf(f"{name} is not a PDF file: it {describe_bytes(data)}")
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
        with self._lock:
            proc = self._send(data, name)
            deadline = time.monotonic() + timeout_s
            try:
                reply = self._read_reply(proc, deadline)
            except TimeoutError:
                self._kill()
                raise errors.ParseTimeout(
                    f"{name}: text extraction took longer than {timeout_s:g} s "
                    "(OLYMPUS_PARSE_TIMEOUT_S) and was stopped"
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

    def _send(self, data: bytes, name: str) -> subprocess.Popen[bytes]:
        """Send a request; a worker that died while idle is replaced once."""
        for attempt in (1, 2):
            proc = self._ensure_started()
            try:
                write_frame(proc.stdin, (data, name))  # type: ignore[arg-type]
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

