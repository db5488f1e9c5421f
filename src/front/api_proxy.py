"""Forward ``/v1`` and ``/api`` from the public port to the service API on 127.0.0.1.

A request from another machine is refused unless OLYMPUS_API_PUBLIC is on (the API is
loopback-only by default). The key is checked here too, before the body is read: a request
without a valid key gets its 401 at once, whatever body it announces, and never takes a
connection to the API. Keyed requests are bounded: at most ``PER_CLIENT`` at a time per
client (address and key), a pool of ``POOL_SIZE`` connections to the API (waiting at most
``POOL_WAIT_S`` for one), and a body that stops arriving for ``BODY_IDLE_S`` is dropped.
Bodies stream both ways, so server-sent events (streamed answers) and MCP's streams pass
through as they are written. A client that goes away is one log line.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from shared_utils.errors import (
    ApiNotPublic,
    InvalidApiKey,
    OlympusError,
    RequestTimeout,
    ServiceUnavailable,
    TooManyRequests,
)
from src.access.keys import KeyStore, read_service_token
from src.api.auth import NO_KEY
from src.api.errors import error_dict
from src.front.proxy import (
    BODY_IDLE_S,
    forward_headers,
    idle_limited,
    relay,
)

logger = structlog.get_logger(__name__)

OPEN_PATHS = frozenset({"/api/health"})  # the API's readiness (src/api/app.py HEALTH_PATH)
PER_CLIENT = 16
POOL_SIZE = 64
POOL_WAIT_S = 10.0
KEEPALIVE_S = 2.0  # below the API server's 5 s: it never closes a connection we reuse


def _error(exc: OlympusError, headers: dict[str, str] | None = None) -> Response:
    """The API's own error body and status for ``exc`` (one builder: ``src/api/errors.py``)."""
    status, body = error_dict(exc)
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


class KeyCheck:
    """Who a request is ("service", a key id) from its bearer token, or None; the same
    keys the API accepts (the key store and this start's service token, both re-read when
    they change)."""

    def __init__(self, data_dir: Path) -> None:
        self.keys = KeyStore(data_dir)
        self.data_dir = data_dir

    def __call__(self, authorization: str) -> str | None:
        scheme, _, secret = authorization.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        token = read_service_token(self.data_dir)
        if token and hmac.compare_digest(secret.encode(), token.encode()):
            return "service"
        try:
            key = self.keys.verify(secret)
        except Exception as exc:  # noqa: BLE001 - an unreadable key file: the API says why, not us
            logger.warning("front.api_keys_unreadable", error=str(exc))
            return None
        return key.id if key is not None else None


class ApiProxy:
    """An ASGI app (mount it under ``/v1`` and ``/api``) forwarding to ``127.0.0.1:port``."""

    def __init__(
        self,
        port: int,
        *,
        public: bool,
        local: Callable[[Request], bool],
        address: Callable[[Request], str],
        check: Callable[[str], str | None],
    ) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.public = public
        self.local = local
        self.address = address
        self.check = check
        self.busy: Counter[tuple[str, str]] = Counter()
        limits = httpx.Limits(
            max_connections=POOL_SIZE, max_keepalive_connections=16, keepalive_expiry=KEEPALIVE_S
        )
        self.client = httpx.AsyncClient(
            base_url=self.base,
            follow_redirects=False,
            limits=limits,
            timeout=httpx.Timeout(None, connect=5, pool=POOL_WAIT_S, write=BODY_IDLE_S),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        refusal = self.refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        client = (self.address(request), request.state.caller)
        if self.busy[client] >= PER_CLIENT:
            await _error(
                TooManyRequests(
                    f"Too many requests at once from this client (at most {PER_CLIENT})."
                ),
                {"Retry-After": "1"},
            )(scope, receive, send)
            return
        self.busy[client] += 1
        try:
            response = await self.forward(request)
            if response is not None:
                await response(scope, receive, send)
        finally:
            self.busy[client] -= 1
            if self.busy[client] <= 0:
                del self.busy[client]

    def refusal(self, request: Request) -> Response | None:
        """The answer that stops this request before its body is read, or None."""
        if not self.public and not self.local(request):
            return _error(ApiNotPublic("The Olympus API is reachable from this machine only."))
        path = _path(request.scope)
        caller = (
            "open" if path in OPEN_PATHS else self.check(request.headers.get("authorization", ""))
        )
        if caller is None:
            logger.info("front.api_refused", path=path[:100], reason="no valid key")
            return _error(InvalidApiKey(NO_KEY), {"WWW-Authenticate": "Bearer"})
        request.state.caller = caller
        return None

    async def forward(self, request: Request) -> Response | None:
        path = _path(request.scope)
        headers = forward_headers(request)
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        for attempt in (1, 2):
            upstream = self.client.build_request(
                request.method,
                httpx.URL(path=path, query=request.url.query.encode()),
                headers=headers,
                content=idle_limited(request.stream(), BODY_IDLE_S) if has_body else None,
            )
            try:
                reply = await self.client.send(upstream, stream=True)
                break
            except ClientDisconnect:
                logger.info("front.api_client_gone", path=path[:100])
                return None
            except (TimeoutError, httpx.WriteTimeout) as exc:
                logger.info(
                    "front.api_body_stalled",
                    path=path[:100],
                    idle_s=BODY_IDLE_S,
                    error=type(exc).__name__,
                )
                return _error(
                    RequestTimeout(f"The request body stopped arriving for {BODY_IDLE_S:.0f} s.")
                )
            except httpx.PoolTimeout:
                logger.warning("front.api_busy", path=path[:100])
                return _error(
                    ServiceUnavailable("The Olympus API is busy; try again in a few seconds."),
                    {"Retry-After": "5"},
                )
            except httpx.TransportError as exc:
                # a reused connection the API closed: safe to try once more without a body
                if (
                    attempt == 1
                    and not has_body
                    and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError))
                ):
                    continue
                logger.warning("front.api_unreachable", path=path[:100], error=str(exc))
                return _error(
                    ServiceUnavailable(
                        "The Olympus API is starting or restarting; try again in a few seconds."
                    )
                )
        response = relay(reply)
        return response

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()


def _path(scope: Scope) -> str:
    root, path = scope.get("root_path", ""), scope["path"]
    return path if path.startswith(root + "/") else root + path  # servers that strip the prefix


def api_mounts(
    port: int | None,
    *,
    public: bool,
    local: Callable[[Any], bool],
    address: Callable[[Any], str],
    data_dir: Path,
) -> dict[str, Any]:
    """The front's mounts for the service API (none when it is not running)."""
    if port is None:
        return {}
    proxy = ApiProxy(port, public=public, local=local, address=address, check=KeyCheck(data_dir))
    return {"/v1": proxy, "/api": proxy}
