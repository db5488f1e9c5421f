"""Text extraction with pypdfium2, and the worker process that runs it.

:func:`extract_texts` turns PDF bytes into raw page texts or raises a typed
:class:`~shared_utils.errors.InvalidDocument`. :func:`main` is the loop of the worker process
that :mod:`shared_utils.documents.pdf` starts, so a pathological PDF can be killed at its
deadline (and a crash inside PDFium cannot take the application down). Protocol on
stdin/stdout: frames of an 8-byte big-endian length followed by a pickle; a request is the PDF
bytes and name (and OCR options, when OCR may run), a reply is ``("ok", [text, ...])`` (with
OCR options: ``("ok", Extraction)``) or ``("err", error_class_name, message)``, after any
number of ``("progress", kind, done, total, message)`` frames.
"""

from __future__ import annotations

import pickle
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from shared_utils.errors import CorruptPdf, EmptyPdf, EncryptedPdf, InvalidDocument

_HEADER = struct.Struct(">Q")
OnPage = Callable[[int, int, Any, Any, str], str]
# PDFium's FPDF_GetLastError codes (fpdfview.h).
_ERR_PASSWORD, _ERR_SECURITY = 4, 5
# pypdfium2 is not thread-safe: one extraction at a time per process.
_PDFIUM_LOCK = threading.Lock()


def extract_texts(data: bytes, *, name: str = "document", on_page: OnPage | None = None
                  ) -> list[str]:
    """Raw text of every page of a PDF (index 0 = page 1), via PDFium.

    ``on_page(index, count, page, textpage, text)`` may replace a page's text while the page
    is open (the OCR triage, ``triage.PageTriage``). Raises EncryptedPdf, CorruptPdf or
    EmptyPdf; text checks (scanned PDFs) are the caller's.
    """
    import pypdfium2 as pdfium  # light (ctypes), but only needed here

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
            texts = []
            for index in range(count):
                try:
                    page = pdf[index]
                    textpage = page.get_textpage()
                    text = textpage.get_text_range()
                    if on_page is not None:
                        text = on_page(index, count, page, textpage, text)
                    texts.append(text)
                    textpage.close()
                    page.close()
                except pdfium.PdfiumError as exc:
                    raise CorruptPdf(f"{name}: page {index + 1} is damaged: {exc}") from exc
            return texts
        finally:
            pdf.close()


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


def main() -> None:
    """Worker loop: read a PDF per frame from stdin, reply with its texts on stdout."""
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
        data, name, *options = pickle.loads(payload)
        try:
            if options:
                from shared_utils.documents.triage import extract_document

                def notify(*event: object) -> None:
                    write_frame(stdout, ("progress", *event))

                reply: tuple = ("ok", extract_document(data, name, options[0], notify))
            else:
                reply = ("ok", extract_texts(data, name=name))
        except InvalidDocument as exc:
            reply = ("err", type(exc).__name__, exc.message)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises typed
            reply = ("err", "CorruptPdf", f"{name}: {type(exc).__name__}: {exc}")
        write_frame(stdout, reply)


if __name__ == "__main__":
    main()
