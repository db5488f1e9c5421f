"""Forward HTTP and websockets to Streamlit on 127.0.0.1, behind the sign-in gate.

Every request first gets this browser's rights from its signed cookie: without the right to
read, a page request is sent to the sign-in page (keeping its path as ``next``), anything
else gets 401, and a websocket is refused before it reaches Streamlit. A browser without a
valid cookie gets one with a fresh browser id on its first response.

Bodies are streamed both ways (uploads are not held in memory here); hop-by-hop headers are
dropped. The websocket leg relays frames as they come, in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import structlog
import websockets
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

from src.access.session_cookie import Claims, new_browser_id
from src.front.config import FrontConfig
from src.front.login import login_url
from src.front.sessions import LEARN_FRAMES, SessionOwners
from src.front.uploads import PREFIX as UPLOAD_PREFIX
from src.front.uploads import UploadGate

logger = structlog.get_logger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
UPSTREAM_ONLY = frozenset({"date", "server"})  # uvicorn sets its own
OPEN_PATHS = frozenset({"/_stcore/health"})  # probes: no sign-in needed (and /healthz)
ADMIN_PATHS = ("/_stcore/metrics",)  # Streamlit's internals: administrators only
WS_FORWARD = ("cookie", "user-agent", "accept-language")
WS_MAX_BYTES = 256 * 1024 * 1024
BODY_IDLE_S = 30.0  # a request body that stops arriving for this long is dropped
UNAVAILABLE = "Olympus is starting or restarting; reload this page in a few seconds.\n"


def forward_headers(request: Request) -> list[tuple[bytes, bytes]]:
    """The client's headers for the upstream request, less hop-by-hop ones. A client that did
    not ask for a compressed body asks for none upstream too (httpx would otherwise add its own
    "gzip, deflate", and the compressed bytes reach e.g. curl as they are)."""
    headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1") not in HOP_BY_HOP]
    if "accept-encoding" not in request.headers:
        headers.append((b"accept-encoding", b"identity"))
    return headers


def relay(reply: httpx.Response) -> StreamingResponse:
    """An upstream reply streamed on to the browser, without hop-by-hop headers and those
    uvicorn sets itself; the upstream connection closes when the body has been sent."""
    response = StreamingResponse(
        reply.aiter_raw(),
        status_code=reply.status_code,
        background=BackgroundTask(reply.aclose),
    )
    response.raw_headers = [
        (k, v)
        for k, v in reply.headers.raw
        if k.decode("latin-1").lower() not in HOP_BY_HOP | UPSTREAM_ONLY
    ]
    return response


class StreamlitProxy:
    def __init__(self, config: FrontConfig) -> None:
        self.config = config
        self.base = f"http://127.0.0.1:{config.upstream_port}"
        self.ws_base = f"ws://127.0.0.1:{config.upstream_port}"
        self.client: httpx.AsyncClient | None = None
        self.sessions = SessionOwners()
        self.uploads = UploadGate(
            max_file_mb=config.max_upload_mb,
            browser_mb=config.session_queue_mb,
            total_mb=config.queue_mb,
            owner_of=self.sessions.owner,
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any):
        # A fresh loopback connection per request (~0.2 ms): on a reused one Streamlit's server
        # answers small responses ~40 ms late (measured in benchmarks/front.py).
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=self.base,
            timeout=httpx.Timeout(None, connect=5),
            limits=limits,
            follow_redirects=False,
        ) as client:
            self.client = client
            yield

    # --- http ------------------------------------------------------------------------------
    async def http(self, request: Request) -> Response:
        access, claims = self.config.access(request)
        path = request.url.path
        if not access.can_read and path not in OPEN_PATHS:
            if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(login_url(target), status_code=303)
            return PlainTextResponse(
                "Sign in first (open this Olympus in a browser).\n", status_code=401
            )
        if path.startswith(ADMIN_PATHS) and not access.is_admin:
            return PlainTextResponse("Only an administrator may see this.\n", status_code=403)
        body: Any = None
        if path.startswith(UPLOAD_PREFIX):
            refusal = self.uploads.check(request, claims.browser_id if claims else "")
            if refusal is None and request.method == "PUT":
                try:
                    body, why = await self.uploads.stream(request)
                except ClientDisconnect:
                    body, why = None, "gone"
                if body is None:
                    self.uploads.release(path)
                    refusal = PlainTextResponse(why + "\n", status_code=415)
            if refusal is not None:
                logger.info("front.upload_refused", status=refusal.status_code)
                return refusal
        reply = await self._send(request, body)
        if not isinstance(reply, httpx.Response):
            self.uploads.release(path)
            return reply
        response = relay(reply)
        if claims is None:
            fresh = Claims(browser_id=new_browser_id())
            response.raw_headers.append(
                (b"set-cookie", self.config.set_cookie_header(request, fresh).encode("latin-1"))
            )
        return response

    async def _send(self, request: Request, body: Any) -> httpx.Response | Response:
        """Streamlit's reply (streamed), or the front's answer when it cannot be had; a
        client that goes away mid-body is one log line."""
        assert self.client is not None
        path = request.url.path
        headers = forward_headers(request)
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        if body is None and has_body:
            body = request.stream()
        if body is not None:
            body = idle_limited(body, BODY_IDLE_S)
        upstream = self.client.build_request(
            request.method,
            httpx.URL(path=path, query=request.url.query.encode()),
            headers=headers,
            content=body,
        )
        try:
            return await self.client.send(upstream, stream=True)
        except ClientDisconnect:
            logger.info("front.client_gone", path=path[:100])
            return Response(status_code=400)  # nobody reads it
        except TimeoutError:
            logger.info("front.body_stalled", path=path[:100], idle_s=BODY_IDLE_S)
            return PlainTextResponse(
                f"The request body stopped arriving for {BODY_IDLE_S:.0f} s.\n", status_code=408
            )
        except httpx.TransportError as exc:
            logger.warning("front.upstream_unreachable", path=path[:100], error=str(exc))
        return PlainTextResponse(UNAVAILABLE, status_code=502)

    # --- websocket -------------------------------------------------------------------------
    async def websocket(self, ws: WebSocket) -> None:
        access, claims = self.config.access(ws)
        if not access.can_read:
            logger.info(
                "front.websocket_refused", reason="not signed in", address=self.config.address(ws)
            )
            await ws.send_denial_response(PlainTextResponse("Sign in first.\n", status_code=403))
            return
        url = self.ws_base + ws.url.path + (f"?{ws.url.query}" if ws.url.query else "")
        headers = [(k, v) for k, v in ws.headers.items() if k in WS_FORWARD]
        browser = claims.browser_id if claims else ""
        protocols = self.sessions.subprotocols(list(ws.scope.get("subprotocols") or []), browser)
        try:
            upstream = await ws_connect(
                url,
                subprotocols=[Subprotocol(p) for p in protocols] or None,
                additional_headers=headers,
                max_size=WS_MAX_BYTES,
                compression=None,
                open_timeout=10,
                ping_interval=None,
                close_timeout=2,
            )
        except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
            logger.warning("front.upstream_unreachable", path=ws.url.path, error=str(exc))
            await ws.send_denial_response(PlainTextResponse(UNAVAILABLE, status_code=502))
            return
        async with upstream:
            await ws.accept(subprotocol=upstream.subprotocol)
            await _relay(ws, upstream, lambda frame: self.sessions.learn(frame, browser))


async def idle_limited(stream: AsyncIterator[bytes], idle_s: float) -> AsyncIterator[bytes]:
    """``stream``, failing with TimeoutError when no chunk arrives for ``idle_s``."""
    it = stream.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(it.__anext__(), idle_s)
        except StopAsyncIteration:
            return
        yield chunk


async def _relay(ws: WebSocket, upstream: Any, learn: Callable[[bytes], bool]) -> None:
    """Copy frames both ways until either side closes; then close the other."""

    async def browser_to_streamlit() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            await upstream.send(data if data is not None else message.get("text", ""))

    async def streamlit_to_browser() -> None:
        learning = LEARN_FRAMES
        async for data in upstream:
            if isinstance(data, bytes):
                if learning > 0:
                    learning = 0 if learn(data) else learning - 1
                await ws.send_bytes(data)
            else:
                await ws.send_text(data)

    tasks = [
        asyncio.create_task(browser_to_streamlit()),
        asyncio.create_task(streamlit_to_browser()),
    ]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    for task in done:
        exc = task.exception()
        if exc and not isinstance(
            exc, (WebSocketDisconnect, websockets.exceptions.ConnectionClosed)
        ):
            logger.warning("front.websocket_relay_failed", error=repr(exc))
    await upstream.close()
    with contextlib.suppress(Exception):  # the browser may be gone already
        await ws.close()
