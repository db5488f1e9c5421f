"""The API process's ASGI app: OpenAI-compatible ``/v1``, Olympus' own ``/v1`` and ``/api``
routes, MCP over streamable HTTP at ``/api/mcp``; API keys on everything but readiness.

Routes (schemas in docs/api.md):
  POST /v1/chat/completions, GET /v1/models[/{id}]    OpenAI-compatible (src/api/chat.py)
  POST /v1/search; GET/POST /v1/documents; DELETE /v1/documents/{id};
  GET /v1/documents/{id}/passages; GET/DELETE /v1/jobs/{id}; GET /v1/health
  POST /api/ask (the pipeline's events, NDJSON); GET /api/backends; GET /api/metrics
  /api/mcp (MCP, streamable HTTP); GET /api/health (readiness, no key)

Around the routes: ``BodyLimit`` (request sizes, src/api/limits.py), then ``KeyAuth`` (keys and
their scopes), then the metrics. Every error body is built by ``src/api/errors.py``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from shared_utils.errors import OlympusError
from src.access.keys import KeyStore
from src.api.auth import KeyAuth
from src.api.chat import ChatRoutes
from src.api.errors import client_gone, http_error, olympus_error, unexpected_error
from src.api.library_routes import LibraryRoutes
from src.api.limits import BodyLimit
from src.api.metrics import Metrics, MetricsMiddleware
from src.library.jobs import IngestQueue
from src.protocols import Pipeline

HEALTH_PATH = "/api/health"
MCP_PATH = "/api/mcp"


def max_tokens_cap(pipeline: Pipeline) -> int:
    """The server's own answer length limit (``OLYMPUS_MAX_ANSWER_TOKENS``)."""
    from src.settings import Settings

    settings = pipeline.__dict__.get("settings")
    return (settings if isinstance(settings, Settings) else Settings()).max_answer_tokens


def build_app(
    pipeline: Pipeline,
    *,
    keys: KeyStore,
    service_token: str,
    queue: IngestQueue,
    max_upload_mb: int,
    metrics: Metrics | None = None,
    warm_up: threading.Thread | None = None,
) -> Any:
    """The app over ``pipeline`` (a ``RAGPipeline``; the caller opens and closes it).
    ``warm_up``: the thread loading the embedder; readiness says "starting" until it ends."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

    from src.api.mcp_server import build_mcp

    metrics = metrics or Metrics()
    mcp = build_mcp(pipeline)
    mcp.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True)

    async def health(_request: Request) -> Response:
        if warm_up is not None and warm_up.is_alive():
            return JSONResponse(
                {"status": "starting", "detail": "loading the embedding model"}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    async def render_metrics(_request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def passages(request: Request) -> Response:
        from shared_utils.types import ScoredChunk
        from src.service.wire import passage_to_dict

        chunks = await run_in_threadpool(pipeline.passages, request.path_params["doc_id"])
        return JSONResponse(
            {"data": [passage_to_dict(c.ordinal + 1, ScoredChunk(c, 0.0)) for c in chunks]}
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any):
        async with mcp.session_manager.run():
            try:
                yield
            finally:
                await run_in_threadpool(queue.shutdown)

    routes = [
        Route(HEALTH_PATH, health, methods=["GET", "HEAD"]),
        Route("/api/metrics", render_metrics, methods=["GET"]),
        Route("/v1/documents/{doc_id}/passages", passages, methods=["GET"]),
        Route(MCP_PATH, StreamableHTTPASGIApp(mcp.session_manager)),
        *ChatRoutes(pipeline, metrics, max_tokens_cap=max_tokens_cap(pipeline)).routes(),
        *LibraryRoutes(pipeline, queue, metrics, max_upload_mb).routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            OlympusError: olympus_error,
            HTTPException: http_error,
            ClientDisconnect: client_gone,
            Exception: unexpected_error,
        },
    )

    def route_of(scope: Scope) -> str:
        for route in routes:
            if route.matches(scope)[0] != Match.NONE:
                return getattr(route, "path", "other")
        return "other"

    bounded = BodyLimit(app, max_upload_mb=max_upload_mb)
    authed = KeyAuth(
        bounded, keys=keys, service_token=service_token, open_paths=frozenset({HEALTH_PATH})
    )
    return MetricsMiddleware(authed, metrics, route_of)
