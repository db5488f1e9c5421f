"""Typed Olympus errors as HTTP answers in OpenAI's error shape (``src.wire.error_to_dict``)."""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared_utils import errors as e
from src.wire import error_to_dict

logger = structlog.get_logger(__name__)

# first match wins (subclasses before their bases)
STATUS: tuple[tuple[type[e.OlympusError], int, str], ...] = (
    (e.FileTooLarge, 413, "invalid_request_error"),
    (e.InvalidDocument, 400, "invalid_request_error"),
    (e.InvalidQuery, 400, "invalid_request_error"),
    (e.UploadRefused, 429, "rate_limit_error"),
    (e.DocumentNotFound, 404, "not_found_error"),
    (e.ModelNotFound, 404, "not_found_error"),
    (e.UnknownBackend, 404, "not_found_error"),
    (e.BackendUnavailable, 503, "service_unavailable"),
    (e.StoreUnavailable, 503, "service_unavailable"),
)


def status_of(exc: e.OlympusError) -> tuple[int, str]:
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "server_error"


def error_response(exc: e.OlympusError) -> JSONResponse:
    status, kind = status_of(exc)
    return JSONResponse(error_to_dict(exc, kind=kind), status_code=status)


async def olympus_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.OlympusError)
    logger.info("api.error", error=type(exc).__name__, message=exc.message)
    return error_response(exc)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown route, wrong method) in the same shape."""
    status = getattr(exc, "status_code", 500)
    message = {404: f"There is no route {request.url.path} (see docs/api.md).",
               405: f"{request.method} is not allowed on {request.url.path}."}.get(
        status, str(getattr(exc, "detail", "")) or "The request failed.")
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": str(status), "hint": ""}}
    return JSONResponse(body, status_code=status)


async def client_gone(request: Request, _exc: Exception) -> Response:
    """The client (or the front, for a client that went away) closed the connection before
    its body arrived: one log line, no traceback; nobody reads the answer."""
    logger.info("api.client_gone", path=request.url.path[:100])
    return Response(status_code=499)


async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("api.internal_error", error=repr(exc), exc_info=exc)
    body = {"error": {"message": f"Internal error ({type(exc).__name__}); the details are in "
                      "the server log.", "type": "server_error", "param": None,
                      "code": "internal_error", "hint": ""}}
    return JSONResponse(body, status_code=500)


def bad_request(message: str, hint: str = "") -> e.InvalidQuery:
    return e.InvalidQuery(message, hint=hint or None)
