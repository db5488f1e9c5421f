"""Typed Olympus errors as HTTP answers in OpenAI's error shape (``src.service.wire.error_body``).

Every error the API sends goes through here: a typed error (``STATUS`` gives its status),
Starlette's own (unknown route, wrong method) and anything unexpected, which is logged with
its traceback and answered without its details (no internal path reaches a client).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Send

from shared_utils import errors as e
from src.schema.requests import bad_request  # noqa: F401 - callers also find it here
from src.service.wire import error_body, error_to_dict

logger = structlog.get_logger(__name__)

# first match wins (subclasses before their bases)
STATUS: tuple[tuple[type[e.OlympusError], int, str], ...] = (
    (e.FileTooLarge, 413, "invalid_request_error"),
    (e.RequestTooLarge, 413, "invalid_request_error"),
    (e.UnsupportedMediaType, 415, "invalid_request_error"),
    (e.RouteNotFound, 404, "invalid_request_error"),
    (e.MethodNotAllowed, 405, "invalid_request_error"),
    (e.RequestTimeout, 408, "invalid_request_error"),
    (e.InvalidRequest, 400, "invalid_request_error"),
    (e.InvalidDocument, 400, "invalid_request_error"),
    (e.InvalidQuery, 400, "invalid_request_error"),
    (e.InvalidApiKey, 401, "authentication_error"),
    (e.KeyScopeRefused, 403, "permission_error"),
    (e.ApiNotPublic, 403, "permission_error"),
    (e.TooManyRequests, 429, "rate_limit_error"),
    (e.UploadRefused, 429, "rate_limit_error"),
    (e.AnswerQueueFull, 429, "rate_limit_error"),
    (e.DocumentNotFound, 404, "not_found_error"),
    (e.JobNotFound, 404, "not_found_error"),
    (e.ModelNotFound, 404, "not_found_error"),
    (e.UnknownBackend, 404, "not_found_error"),
    (e.ServiceUnavailable, 503, "service_unavailable"),
    (e.BackendUnavailable, 503, "service_unavailable"),
    (e.StoreUnavailable, 503, "service_unavailable"),
    (e.EmbeddingModelUnavailable, 503, "service_unavailable"),
)
# a file system path (two or more segments): a server error names no internal path
_PATH = re.compile(r"(?<![\w:/])/(?:[\w.@+-]+/)+[\w.@+-]*")
INTERNAL = (
    "Internal error ({name}); the details are in the server log.",
    "Try again; if it keeps failing, report it with the server log.",
)


def status_of(exc: e.OlympusError) -> tuple[int, str]:
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "server_error"


def error_dict(exc: e.OlympusError) -> tuple[int, dict[str, Any]]:
    """(status, body) of a typed error; a server-side error's message loses its file paths.

    >>> error_dict(e.StoreUnavailable("Milvus at /data/x/milvus.db is locked."))[1]["error"][
    ...     "message"]
    'Milvus at <path> is locked.'
    """
    status, kind = status_of(exc)
    body = error_to_dict(exc, kind=kind)
    if status >= 500:
        for key in ("message", "hint"):
            body["error"][key] = _PATH.sub("<path>", body["error"][key])
    return status, body


def error_response(exc: e.OlympusError, headers: dict[str, str] | None = None) -> JSONResponse:
    status, body = error_dict(exc)
    return JSONResponse(body, status_code=status, headers=headers)


def internal_body(exc: BaseException) -> dict[str, Any]:
    message, hint = INTERNAL
    return error_body(
        message.format(name=type(exc).__name__),
        code="InternalError",
        hint=hint,
        kind="server_error",
    )


async def olympus_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.OlympusError)
    logger.info("api.error", error=type(exc).__name__, message=exc.message)
    return error_response(exc, headers_for(exc))


def headers_for(exc: e.OlympusError) -> dict[str, str] | None:
    """401 says how to authenticate; 413 closes the connection, so a client still sending
    a body past the limit is stopped rather than drained; 429 says when to retry."""
    retry = getattr(exc, "retry_after_s", None)  # the answer queue's estimate
    if retry:
        return {"retry-after": str(max(1, math.ceil(retry)))}
    if isinstance(exc, e.InvalidApiKey):
        return {"www-authenticate": "Bearer"}
    if isinstance(exc, (e.FileTooLarge, e.RequestTooLarge)):
        return {"connection": "close"}
    return None


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown route, wrong method) as typed errors."""
    status = getattr(exc, "status_code", 500)
    path = request.url.path
    if status == 404:
        err: e.OlympusError = e.RouteNotFound(f"There is no route {path}.")
    elif status == 405:
        err = e.MethodNotAllowed(f"{request.method} is not allowed on {path}.")
    else:
        err = e.InvalidRequest(str(getattr(exc, "detail", "")) or "The request failed.")
    response = error_response(err)
    response.status_code = status
    return response


async def client_gone(request: Request, _exc: Exception) -> Response:
    """The client (or the front, for a client that went away) closed the connection before
    its body arrived: one log line, no traceback; nobody reads the answer."""
    logger.info("api.client_gone", path=request.url.path[:100])
    return Response(status_code=499)


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("api.internal_error", error=repr(exc), exc_info=exc)
    return JSONResponse(internal_body(exc), status_code=500)


async def send_error(
    send: Send, exc: e.OlympusError, headers: dict[str, str] | None = None
) -> None:
    """Answer a raw ASGI request with ``exc`` (middleware that acts before the app)."""
    status, body_dict = error_dict(exc)
    body = json.dumps(body_dict).encode()
    raw = [(b"content-type", b"application/json")]
    raw += [(k.encode(), v.encode()) for k, v in (headers or headers_for(exc) or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
