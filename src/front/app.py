"""The front: the one public port, before Streamlit (which listens on 127.0.0.1 only).

Routes, first match wins:

- ``/_olympus/login`` (GET form, POST password), ``/_olympus/logout``, ``/_olympus/health``
  (the front's own readiness); ``/healthz``: the front's health with Streamlit's and the
  API's (``health.py``, for Docker's HEALTHCHECK); ``/_stcore/health`` is Streamlit's, proxied.
- ``mounts``: other ASGI apps under a path prefix, e.g. the service API (src/api/):
  ``build_app(config, mounts={"/v1": api, "/api": api})``. They do their own auth (API keys);
  the Host check below applies to them too.
- ``/chat``: redirected to ``/`` (Streamlit gives the default page, Chat, no address of its
  own, so a typed or bookmarked ``/chat`` would show "Page not found").
- everything else, websockets included: Streamlit, behind the sign-in gate (``proxy.py``).

The whole app is wrapped in the allowed-hosts check (``hosts.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp

from src.front.config import FrontConfig
from src.front.health import Health
from src.front.hosts import HostCheck
from src.front.login import LoginRoutes
from src.front.proxy import StreamlitProxy

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
RESERVED_PREFIXES = ("/v1", "/api")  # the service API's routes, never Streamlit pages


def build_app(
    config: FrontConfig, *, mounts: Mapping[str, ASGIApp] | None = None, api_port: int | None = None
) -> ASGIApp:
    login = LoginRoutes(config)
    proxy = StreamlitProxy(config)
    routes: list[BaseRoute] = [
        Route("/_olympus/login", login.form, methods=["GET", "HEAD"]),
        Route("/_olympus/login", login.submit, methods=["POST"]),
        Route("/_olympus/logout", login.logout, methods=["GET", "POST"]),
        Route("/_olympus/health", login.health, methods=["GET", "HEAD"]),
        Route("/healthz", Health(config.upstream_port, api_port).respond, methods=["GET", "HEAD"]),
        Route("/chat", _to_chat, methods=["GET", "HEAD"]),
    ]
    routes += [Mount(prefix, app=app) for prefix, app in (mounts or {}).items()]
    routes += [
        Route("/{path:path}", proxy.http, methods=METHODS),
        WebSocketRoute("/{path:path}", proxy.websocket),
    ]
    return HostCheck(Starlette(routes=routes, lifespan=proxy.lifespan), config.allowed)


async def _to_chat(request: Request) -> RedirectResponse:
    """``/chat`` (with its query) is the Chat page at ``/``."""
    query = request.url.query
    return RedirectResponse("/" + (f"?{query}" if query else ""), status_code=307)
