"""The gate before Streamlit's upload endpoint (``/_stcore/upload_file/<session>/<file>``).

Streamlit keeps every uploaded file in memory until its session lets go of it, whatever the
uploader widget allows. The front lets through only what the uploader takes: a PUT into a
session this browser started (``sessions.py``), with a declared length within
OLYMPUS_MAX_UPLOAD_MB, one file whose name ends in ``.pdf`` and whose bytes start with
``%PDF-``. Bytes held this way count against the same budgets as the upload queue: at most
OLYMPUS_SESSION_QUEUE_MB per browser and OLYMPUS_QUEUE_MB in total within ``HOLD_S`` (a
DELETE of the file, which the uploader sends when it is done with it, gives the bytes back).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

PREFIX = "/_stcore/upload_file/"
MB = 1024 * 1024
OVERHEAD = 64 * 1024  # multipart framing around the file
SNIFF_BYTES = 16 * 1024
HOLD_S = 600.0
_DISPOSITION = re.compile(rb'filename="([^"]*)"', re.IGNORECASE)


@dataclass
class Held:
    browser: str
    size: int
    at: float


class UploadGate:
    def __init__(
        self,
        *,
        max_file_mb: int,
        browser_mb: int,
        total_mb: int,
        owner_of: Callable[[str], str | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_file_mb * MB + OVERHEAD
        self.browser_bytes = browser_mb * MB
        self.total_bytes = total_mb * MB
        self.owner_of = owner_of
        self.clock = clock
        self._held: OrderedDict[str, Held] = OrderedDict()  # path -> what it holds

    def check(self, request: Request, browser: str) -> Response | None:
        """The refusal of this upload request, or None (then ``stream`` it)."""
        parts = request.url.path[len(PREFIX) :].split("/")
        if len(parts) != 2 or not browser or self.owner_of(parts[0]) != browser:
            return _no(403, "This upload does not belong to your session; reload the page.")
        if request.method == "DELETE":
            self._held.pop(request.url.path, None)
            return None
        if request.method != "PUT":
            return _no(405, "Uploads are sent with PUT.")
        try:
            size = int(request.headers.get("content-length", ""))
        except ValueError:
            return _no(411, "An upload must say its length (Content-Length).")
        if size > self.max_bytes:
            return _no(
                413,
                f"The file is larger than the {self.max_bytes // MB} MB allowed "
                "(OLYMPUS_MAX_UPLOAD_MB).",
            )
        self._expire()
        mine = sum(h.size for h in self._held.values() if h.browser == browser)
        total = sum(h.size for h in self._held.values())
        if mine + size > self.browser_bytes or total + size > self.total_bytes:
            return _no(429, "Too many uploads are waiting; let them finish, then try again.")
        self._held[request.url.path] = Held(browser, size, self.clock())
        return None

    def release(self, path: str) -> None:
        """Give back the bytes of an upload that did not go through."""
        self._held.pop(path, None)

    async def stream(self, request: Request) -> tuple[AsyncIterator[bytes] | None, str]:
        """(the body to forward, "") once its start shows one PDF; (None, why) otherwise."""
        boundary = _boundary(request.headers.get("content-type", ""))
        if not boundary:
            return None, "An upload must be a multipart form."
        it = request.stream().__aiter__()
        head = b""
        async for chunk in it:
            head += chunk
            if len(head) >= SNIFF_BYTES:
                break
        why = _pdf_problem(head, boundary)
        if why:
            return None, why

        async def body() -> AsyncIterator[bytes]:
            yield head
            async for chunk in it:
                yield chunk

        return body(), ""

    def _expire(self) -> None:
        now = self.clock()
        while self._held and next(iter(self._held.values())).at + HOLD_S <= now:
            self._held.popitem(last=False)


def _boundary(content_type: str) -> bytes:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return b""
    match = re.search(r'boundary="?([^";]+)"?', params)
    return match.group(1).encode("latin-1") if match else b""


def _pdf_problem(head: bytes, boundary: bytes) -> str:
    """Why the start of this multipart body is not one PDF file ("" when it is)."""
    start = head.find(b"--" + boundary + b"\r\n")
    end = head.find(b"\r\n\r\n", start + 1)
    if start < 0 or end < 0:
        return "The upload could not be read."
    headers = head[start:end]
    name = _DISPOSITION.search(headers)
    if not name or not name.group(1).lower().endswith(b".pdf"):
        return "Only PDF files can be uploaded."
    data = head[end + 4 :]
    if len(data) < 5 and len(head) < SNIFF_BYTES:
        return "The file is empty."
    if b"%PDF-" not in data[:1024]:  # where readers look for the header
        return "This file is not a PDF (its content does not start like one)."
    if head.count(b"--" + boundary) > 1 and head.count(b"filename=") > 1:
        return "Send one file per upload."
    return ""


def _no(status: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)
