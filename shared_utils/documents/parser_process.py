"""The parser process: a reusable ``pdf_worker.py`` child that a deadline can kill.

``pdf.py`` asks; this module starts the child (memory-capped, in the environment it is given),
sends it one request at a time as a length-prefixed pickle frame, reads the progress frames
and the reply within the deadline and under a size cap, and kills and restarts the child when
a PDF overruns either, or when the child dies (a crash becomes a typed ``InvalidDocument``).
``pdf_worker.py`` is the other end: what runs inside the child.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import structlog

from shared_utils import errors
from shared_utils.documents.ocr import OcrOptions
from shared_utils.documents.pdf_worker import (
    _HEADER,
    ParseLimits,
    RawPage,
    memory_message,
    write_frame,
)
from shared_utils.documents.triage import Extraction, Notify, OcrPass
from shared_utils.errors import CorruptPdf, DocumentTooLarge, InvalidDocument

logger = structlog.get_logger(__name__)

_ROOT = str(Path(__file__).resolve().parents[2])
_WORKER_CMD = [
    sys.executable,
    "-c",
    f"import sys; sys.path.insert(0, {_ROOT!r}); "
    "from shared_utils.documents.pdf_worker import main; main()",
]
_OCR_WORDS_BYTES = 64 * 1024  # reply allowance per page for OCR word boxes


class PdfWorker:
    """A reusable extraction process; killed and restarted when a PDF overruns its deadline.

    The process caps its own address space at ``memory_mb`` (RLIMIT_AS) and runs with
    ``env`` (None: this process's environment). Thread-safe: one extraction at a time
    (callers queue on a lock; the deadline starts when the extraction starts).
    """

    def __init__(
        self,
        command: list[str] | None = None,
        *,
        memory_mb: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        memory_mb = memory_mb or ParseLimits.memory_mb  # never uncapped by default
        self._command = command or [*_WORKER_CMD, "--memory-mb", str(memory_mb)]
        self.memory_mb = memory_mb if command is None else None
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def extract(
        self, data: bytes, *, name: str, timeout_s: float, limits: ParseLimits | None = None
    ) -> list[RawPage]:
        """Pages of ``data``; raises ParseTimeout after ``timeout_s`` seconds."""
        limits = limits or ParseLimits()
        return self._request((data, name, limits), name, timeout_s, limits.max_reply_bytes)

    def extract_document(
        self,
        data: bytes,
        *,
        name: str,
        timeout_s: float,
        limits: ParseLimits,
        ocr: OcrOptions,
        progress: Notify | None = None,
    ) -> Extraction:
        """Pages with per-page triage and OCR (``pdf_worker.extract_document``); the deadline
        grows by the OCR time limit of each page that is OCR'd."""
        max_bytes = limits.max_reply_bytes + limits.max_pages * _OCR_WORDS_BYTES
        return self._request((data, name, limits, ocr), name, timeout_s, max_bytes, progress)

    def ocr_pages(
        self,
        data: bytes,
        *,
        name: str,
        pages: list[int],
        timeout_s: float,
        limits: ParseLimits,
        ocr: OcrOptions,
        progress: Notify | None = None,
    ) -> OcrPass:
        """The OCR of ``pages`` only (``triage.ocr_pages``)."""
        max_bytes = limits.max_reply_bytes + len(pages) * _OCR_WORDS_BYTES
        return self._request(
            (data, name, limits, ocr, list(pages)), name, timeout_s, max_bytes, progress
        )

    def _request(
        self,
        request: tuple,
        name: str,
        timeout_s: float,
        max_bytes: int,
        progress: Notify | None = None,
    ):
        with self._lock:
            proc = self._send(request, name)
            deadline = time.monotonic() + timeout_s
            try:
                while (reply := self._read_reply(proc, deadline, max_bytes))[0] == "progress":
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
            except _ReplyTooLarge as exc:
                self._kill()
                raise DocumentTooLarge(
                    f"{name}: the parser's reply would be {exc.size / 1e6:,.0f} MB, over the "
                    f"{max_bytes / 1e6:,.0f} MB that OLYMPUS_MAX_DOCUMENT_CHARS "
                    "allows"
                ) from None
            except (BrokenPipeError, EOFError) as exc:
                code = self._kill()
                raise self._crash_error(name, code) from exc
            except BaseException:
                # any other interruption (a progress callback that raises, e.g. a cancelled
                # ingest; a signal) leaves this file's reply unread in the pipe, where the next
                # file would read it as its own: the worker goes, a new one starts next time
                self._kill()
                raise
        if reply[0] == "ok":
            return reply[1]
        _, kind, message = reply
        error_cls = getattr(errors, kind, None)
        if not (isinstance(error_cls, type) and issubclass(error_cls, InvalidDocument)):
            error_cls = CorruptPdf
        raise error_cls(message)

    def _crash_error(self, name: str, code: int | None) -> InvalidDocument:
        """A worker that died mid-file: out of its memory cap (PDFium aborts on a failed
        allocation: SIGABRT/SIGSEGV/SIGBUS, or MemoryError's exit), or a parser crash."""
        if self.memory_mb and code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS, 1):
            return DocumentTooLarge(
                memory_message(name, self.memory_mb) + (f" (the parser stopped with code {code})")
            )
        return CorruptPdf(f"{name}: the PDF parser crashed on this file (exit code {code})")

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
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                env=self.env,
            )
            logger.debug("pdf.worker_started", pid=self._proc.pid, memory_mb=self.memory_mb)
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
    def _read_reply(proc: subprocess.Popen[bytes], deadline: float, max_bytes: int) -> tuple:
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        size = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))[0]
        if size > max_bytes:
            raise _ReplyTooLarge(size)
        return pickle.loads(_read_exact(fd, size, deadline))


class _ReplyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


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


def shared_worker(memory_mb: int | None = None, env: dict[str, str] | None = None) -> PdfWorker:
    """The process's worker; replaced when the memory cap or environment asked for changes."""
    global _worker
    memory_mb = memory_mb or ParseLimits.memory_mb
    with _worker_lock:
        if _worker is None or (_worker.memory_mb, _worker.env) != (memory_mb, env):
            if _worker is not None:
                _worker.close()
            _worker = PdfWorker(memory_mb=memory_mb, env=env)
        return _worker
