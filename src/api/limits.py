"""The API's bounds on what a request may ask for (documented in docs/api.md, "Limits").

- A JSON body is at most ``MAX_JSON_BYTES`` and ``MAX_JSON_DEPTH`` levels deep; an upload at
  most the upload limit (``OLYMPUS_MAX_UPLOAD_MB``) plus the multipart envelope. Both are
  counted while the body arrives (``BodyLimit``): a body announced too large is refused before
  it is read, one that grows past the limit is stopped there (413), never read whole.
- ``k`` (passages of a search) is at most ``src.schema.requests.MAX_K`` on every search
  route and tool.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared_utils.errors import FileTooLarge, InvalidRequest, OlympusError, RequestTooLarge
from src.schema.requests import MAX_K, check_k  # noqa: F401 - the request schema owns them

MB = 1024 * 1024
MAX_JSON_BYTES = 1 * MB
MAX_JSON_DEPTH = 32
UPLOAD_ENVELOPE = 1 * MB  # multipart boundaries and headers around the file
UPLOAD_PATH = "/v1/documents"


def depth_of(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(raw: bytes) -> Any:
    """The JSON value of ``raw``, refusing invalid and too deeply nested bodies with 400."""
    hint = "Send a JSON object with Content-Type: application/json."
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise InvalidRequest(
            f"The JSON body nests more than {MAX_JSON_DEPTH} levels deep.", hint=hint
        ) from exc
    except ValueError as exc:
        raise InvalidRequest("The request body is not valid JSON.", hint=hint) from exc
    if depth_of(value) > MAX_JSON_DEPTH:
        raise InvalidRequest(
            f"The JSON body nests more than {MAX_JSON_DEPTH} levels deep.", hint=hint
        )
    return value


class BodyLimit:
    """Counts each request's body as it arrives; stops it at the route's limit (413)."""

    def __init__(self, app: ASGIApp, *, max_upload_mb: int) -> None:
        self.app = app
        self.max_upload_mb = max_upload_mb

    def limit(self, scope: Scope) -> tuple[int, OlympusError]:
        """The route's byte limit and the error that says it was passed."""
        if scope["path"] == UPLOAD_PATH and scope["method"] == "POST":
            return (
                self.max_upload_mb * MB + UPLOAD_ENVELOPE,
                FileTooLarge(f"The upload is larger than the limit of {self.max_upload_mb} MB."),
            )
        return MAX_JSON_BYTES, RequestTooLarge(
            f"The request body is larger than the limit of {MAX_JSON_BYTES // MB} MB."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from src.api.errors import send_error  # (this module stays light: the CLI reads MAX_K)

        limit, too_large = self.limit(scope)
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await send_error(send, too_large)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large
            return message

        await self.app(scope, counted, send)
