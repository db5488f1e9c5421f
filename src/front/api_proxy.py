"""Forward ``/v1`` and ``/api`` from the public port to the service API on 127.0.0.1.

The API does its own auth (API keys); here a request from another machine is refused unless
OLYMPUS_API_PUBLIC is on (the API is loopback-only by default). Bodies stream both ways, so
server-sent events (streamed answers) and MCP's streams pass through as they are written.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Callable
from typing import Any

import httpx
import structlog
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from src.front.proxy import HOP_BY_HOP, UPSTREAM_ONLY, forward_headers

logger = structlog.get_logger(__name__)


def _error(status: int, message: str, code: str) -> Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": code}}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


class ApiProxy:
    """An ASGI app (mount it under ``/v1`` and ``/api``) forwarding to ``127.0.0.1:port``."""

    def __init__(self, port: int, *, public: bool, address: Callable[[Request], str]) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.public = public
        self.address = address
        self.client = httpx.AsyncClient(base_url=self.base, follow_redirects=False,
                                        timeout=httpx.Timeout(None, connect=5))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        response = await self.forward(Request(scope, receive))
        await response(scope, receive, send)

    async def forward(self, request: Request) -> Response:
        if not self.public and not _loopback(self.address(request)):
            return _error(403, "The Olympus API is reachable from this machine only; an admin "
                          "enables it for others with OLYMPUS_API_PUBLIC=true.", "api_not_public")
        scope = request.scope
        root, path = scope.get("root_path", ""), scope["path"]
        if not path.startswith(root + "/"):  # servers that strip the mount prefix
            path = root + path
        headers = forward_headers(request)
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        upstream = self.client.build_request(
            request.method, httpx.URL(path=path, query=request.url.query.encode()),
            headers=headers, content=request.stream() if has_body else None)
        try:
            reply = await self.client.send(upstream, stream=True)
        except httpx.TransportError as exc:
            logger.warning("front.api_unreachable", path=path, error=str(exc))
            return _error(503, "The Olympus API is starting or restarting; try again in a few "
                          "seconds.", "service_unavailable")
        response = StreamingResponse(reply.aiter_raw(), status_code=reply.status_code,
                                     background=BackgroundTask(reply.aclose))
        response.raw_headers = [(k, v) for k, v in reply.headers.raw
                                if k.decode("latin-1").lower() not in HOP_BY_HOP | UPSTREAM_ONLY]
        return response

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()


def api_mounts(port: int | None, *, public: bool,
               address: Callable[[Any], str]) -> dict[str, Any]:
    """The front's mounts for the service API (none when it is not running)."""
    if port is None:
        return {}
    proxy = ApiProxy(port, public=public, address=address)
    return {"/v1": proxy, "/api": proxy}
