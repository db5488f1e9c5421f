"""Text extraction with pypdfium2, and the worker process that runs it.

:func:`extract_texts` turns PDF bytes into raw page texts or raises a typed
:class:`~shared_utils.errors.InvalidDocument`. :func:`main` is the loop of the worker process
that :mod:`shared_utils.documents.parser_process` starts, so a pathological PDF can be killed at its
deadline (and a crash inside PDFium cannot take the application down). Protocol on
stdin/stdout: frames of an 8-byte big-endian length followed by a pickle; a request is
``(pdf_bytes, name, ParseLimits)``, a reply is ``("ok", [RawPage, ...])`` or
``("err", error_class_name, message)``. A request with OCR options
``(pdf_bytes, name, ParseLimits, OcrOptions)`` gets ``("ok", triage.Extraction)``, after
``("progress", kind, page, pages, message)`` frames. The worker caps its own address space
(``--memory-mb``, RLIMIT_AS) before it reads a request, so a decompression bomb ends in a
MemoryError or a crash of the worker, never in the machine's memory.
"""

from __future__ import annotations

import pickle
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from shared_utils.documents import hidden_text
from shared_utils.errors import (
    CorruptPdf,
    DocumentTooLarge,
    EmptyPdf,
    EncryptedPdf,
    InvalidDocument,
)

if TYPE_CHECKING:
    from shared_utils.documents.ocr import OcrOptions
    from shared_utils.documents.triage import Extraction, Notify

_HEADER = struct.Struct(">Q")
OnPage = Callable[[int, int, Any, Any, str], str]
# PDFium's FPDF_GetLastError codes (fpdfview.h).
_ERR_PASSWORD, _ERR_SECURITY = 4, 5
# pypdfium2 is not thread-safe: one extraction at a time per process.
_PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True)
class ParseLimits:
    """What one PDF may cost: pages, characters, the worker's memory, its reply size.

    Each limit has an ``OLYMPUS_*`` setting of the same name; the error names it.
    """

    max_pages: int = 5000
    max_page_chars: int = 100_000
    max_document_chars: int = 10_000_000
    memory_mb: int = 1536
    keep_hidden: bool = False  # index invisible text, marked as such

    @property
    def max_reply_bytes(self) -> int:
        """Largest reply a worker may send: the character cap in UTF-8 plus page overhead."""
        return self.max_document_chars * 4 + self.max_pages * 1024 + (1 << 20)


@dataclass(frozen=True)
class RawPage:
    """One page as extracted: its text and what was hidden on it (left out or marked)."""

    text: str
    hidden_count: int = 0  # pieces of hidden text (left out, or kept after HIDDEN_MARK)
    hidden_reasons: tuple[str, ...] = ()


HIDDEN_MARK = "[Hidden text, not visible on the page:"


def extract_texts(data: bytes, *, name: str = "document") -> list[str]:
    """Raw text of every page of a PDF (index 0 = page 1), via PDFium, default limits."""
    return [page.text for page in extract_pages(data, name=name)]


def extract_pages(
    data: bytes,
    *,
    name: str = "document",
    limits: ParseLimits | None = None,
    on_page: OnPage | None = None,
    finish: Callable[[Any, list[RawPage]], None] | None = None,
) -> list[RawPage]:
    """Every page of a PDF (index 0 = page 1), via PDFium, within ``limits``.

    Raises EncryptedPdf, CorruptPdf, EmptyPdf or DocumentTooLarge; text checks (scanned
    PDFs) are the caller's. Hidden text is left out (or kept after a marker with
    ``limits.keep_hidden``). ``on_page(index, count, page, textpage, text)`` sees each page's
    text while the page is open (the OCR triage, ``triage.PageTriage``); ``finish(pdf,
    pages)`` runs once every page is read, with the document still open (it may replace
    pages in the list: the OCR of the pages the triage picked).
    """
    import pypdfium2 as pdfium  # light (ctypes), but only needed here

    limits = limits or ParseLimits()
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            # PDFium's error code is sticky across documents (an empty page tree sets none),
            # so pypdf decides first; the code counts only for files that declare /Encrypt.
            _classify_unreadable(data, name)
            code = getattr(exc, "err_code", None)
            if code in (_ERR_PASSWORD, _ERR_SECURITY) and b"/Encrypt" in data:
                raise EncryptedPdf(f"{name} is password-protected") from exc
            raise CorruptPdf(f"{name} cannot be opened as a PDF: {exc}") from exc
        try:
            count = len(pdf)
            if count == 0:
                raise EmptyPdf(f"{name} has no pages")
            if count > limits.max_pages:
                raise DocumentTooLarge(
                    f"{name} has {count:,} pages; the limit is {limits.max_pages:,} "
                    "(OLYMPUS_MAX_PAGES)"
                )
            pages, total = [], 0
            for index in range(count):
                try:
                    page = _extract_page(pdf, index, name, limits, on_page)
                except pdfium.PdfiumError as exc:
                    raise CorruptPdf(f"{name}: page {index + 1} is damaged: {exc}") from exc
                total += len(page.text)
                if total > limits.max_document_chars:
                    raise DocumentTooLarge(
                        f"{name} has more than {limits.max_document_chars:,} characters of "
                        f"text (reached on page {index + 1}); that is the limit "
                        "(OLYMPUS_MAX_DOCUMENT_CHARS)"
                    )
                pages.append(page)
            if finish is not None:
                finish(pdf, pages)
            return pages
        finally:
            pdf.close()


def _extract_page(
    pdf: Any, index: int, name: str, limits: ParseLimits, on_page: OnPage | None = None
) -> RawPage:
    page = pdf[index]
    try:
        hidden = hidden_text.find_hidden(page, page.get_bbox())
        kept: list[str] = []
        if hidden:
            if limits.keep_hidden:
                probe = page.get_textpage()
                kept = hidden_text.hidden_strings(hidden, probe)
                probe.close()
            hidden_text.remove(hidden)
        textpage = page.get_textpage()
        try:
            chars = textpage.count_chars()
            if chars > limits.max_page_chars:
                raise DocumentTooLarge(
                    f"{name}: page {index + 1} has {chars:,} characters; the limit is "
                    f"{limits.max_page_chars:,} per page (OLYMPUS_MAX_PAGE_CHARS)"
                )
            text = textpage.get_text_range()
            if on_page is not None:
                text = on_page(index, len(pdf), page, textpage, text)
        finally:
            textpage.close()
    finally:
        page.close()
    if kept:
        text += "\n\n" + HIDDEN_MARK + " " + " / ".join(kept) + "]"
    return RawPage(text, len(hidden.objects), hidden.reasons)


def _classify_unreadable(data: bytes, name: str) -> None:
    """Raise EncryptedPdf or EmptyPdf when pypdf can tell; return when it cannot."""
    import io

    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        pages = None if encrypted else len(reader.pages)
    except Exception:  # noqa: BLE001 - pypdf cannot read it either: the caller raises CorruptPdf
        return
    if encrypted:
        raise EncryptedPdf(f"{name} is password-protected")
    if pages == 0:
        raise EmptyPdf(f"{name} has no pages")


def write_frame(stream: BinaryIO, obj: object) -> None:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        part = stream.read(n - len(buf))
        if not part:
            return None
        buf += part
    return bytes(buf)


def _exit_when_orphaned(interval_s: float = 1.0) -> None:
    """Exit as soon as the parent process is gone (checked by a daemon thread).

    Not PR_SET_PDEATHSIG: that fires when the *thread* that started the worker exits, and
    Streamlit runs every script run in a new thread.
    """
    import os
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def limit_memory(memory_mb: int) -> None:
    """Cap this process's address space (RLIMIT_AS) at ``memory_mb`` MiB."""
    import resource

    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def main(argv: list[str] | None = None) -> None:
    """Worker loop: read a PDF per frame from stdin, reply with its pages on stdout.

    ``--memory-mb N`` caps the worker's address space before anything is parsed.
    """
    args = sys.argv[1:] if argv is None else argv
    if "--memory-mb" in args:
        limit_memory(int(args[args.index("--memory-mb") + 1]))
    _exit_when_orphaned()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the protocol
    while True:
        header = _read_exact(stdin, _HEADER.size)
        if header is None:
            return
        payload = _read_exact(stdin, _HEADER.unpack(header)[0])
        if payload is None:
            return
        data, name, limits, *rest = pickle.loads(payload)
        del payload
        write_frame(stdout, _reply(data, name, limits, *rest[:2], stdout=stdout))


def _reply(
    data: bytes,
    name: str,
    limits: ParseLimits,
    ocr: Any = None,
    pages: list[int] | None = None,
    *,
    stdout: BinaryIO | None = None,
) -> tuple:
    """One request: the pages' text (``ocr`` None), with triage and OCR, or only the OCR of
    ``pages`` (deferred pages of a document already indexed)."""
    try:
        if ocr is not None:
            from shared_utils.documents.triage import ocr_pages

            def notify(*event: object) -> None:
                write_frame(stdout, ("progress", *event))  # type: ignore[arg-type]

            if pages is not None:
                return ("ok", ocr_pages(data, pages, ocr, notify))
            return ("ok", extract_document(data, name, limits, ocr, notify))
        return ("ok", extract_pages(data, name=name, limits=limits))
    except InvalidDocument as exc:
        return ("err", type(exc).__name__, exc.message)
    except MemoryError:
        return ("err", "DocumentTooLarge", memory_message(name, limits.memory_mb))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises typed
        return ("err", "CorruptPdf", f"{name}: {type(exc).__name__}: {exc}")


def extract_document(
    data: bytes, name: str, limits: Any, options: OcrOptions | None, notify: Notify | None = None
) -> Extraction:
    """Extract every page's text, OCR'ing the pages that need it (``triage.PageTriage``).
    Triage (and OCR) load only when a request asks for them."""
    from shared_utils.documents.triage import Extraction, PageTriage

    triage = PageTriage(options, notify)
    pages = extract_pages(data, name=name, limits=limits, on_page=triage, finish=triage.finish)
    if not limits or not limits.keep_hidden:
        triage.report.hidden_text_dropped = sum(p.hidden_count for p in pages)
    return Extraction(pages, triage.report, triage.words)


def memory_message(name: str, memory_mb: int) -> str:
    return (
        f"{name} needs more memory to parse than the parser may use ({memory_mb:,} MB, "
        "OLYMPUS_PARSE_MEMORY_MB); it may be a decompression bomb"
    )


if __name__ == "__main__":
    main()
