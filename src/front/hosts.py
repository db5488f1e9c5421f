"""Allowed hosts (against DNS rebinding) and the client's address (for login throttling).

A browser tricked into sending requests to this machine under another name (DNS rebinding:
``attacker.example`` resolving to 127.0.0.1) still sends ``Host: attacker.example``; the
front refuses every request, HTTP or websocket, whose Host is not this machine's, the
Space's, or one listed in ``OLYMPUS_ALLOWED_HOSTS``. A websocket's Origin, when sent, must
name an allowed host too (no cross-site websocket hijacking).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import structlog
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

logger = structlog.get_logger(__name__)

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(header: str) -> str:
    """The host part of a Host header or URL netloc, lower case, without port or brackets.

    >>> host_name("Example.COM:8501"), host_name("[::1]:7860"), host_name("localhost.")
    ('example.com', '::1', 'localhost')
    """
    value = header.strip().lower()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def allowed_hosts(space_host: str, extra: Iterable[str]) -> frozenset[str]:
    """Loopback names, the Space's host and the configured ones ("*" allows any)."""
    names = set(LOCAL_HOSTS)
    if space_host:
        names.add(host_name(space_host))
    names.update(host_name(h) if h != "*" else "*" for h in extra)
    names.discard("")  # a missing Host header is never allowed
    return frozenset(names)


def origin_allowed(origin: str | None, allowed: frozenset[str]) -> bool:
    """True for no Origin (not a browser page) or an Origin whose host is allowed."""
    if not origin:
        return True
    if "*" in allowed:
        return True
    return host_name(urlsplit(origin).netloc) in allowed


def _proxy_peer(peer: str) -> bool:
    """Whether ``peer`` can be the platform's proxy: a loopback or private address (a proxy
    on the Internet, or a client that reached us directly, cannot vouch for anyone)."""
    try:
        ip = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


def client_address(peer: str, headers: Mapping[str, str], *, trust_proxy: bool) -> str:
    """The address to throttle: the peer, or behind a trusted proxy the last
    X-Forwarded-For entry (the one hop that proxy added; earlier ones are the client's say).

    The entry counts only when the peer is a loopback/private address (where the platform's
    proxy connects from) and it is an IP address (never a client-written "localhost").
    """
    if trust_proxy and _proxy_peer(peer):
        forwarded = [a.strip() for a in headers.get("x-forwarded-for", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if forwarded:
            return _ip(forwarded[-1]) or "unknown"
    return peer or "unknown"


def is_local_request(peer: str, headers: Mapping[str, str], *, trust_proxy: bool) -> bool:
    """True only for a request from this machine itself: a loopback peer, and not one that
    came through the proxy (behind a proxy every forwarded request is someone else's,
    whatever its X-Forwarded-For says)."""
    try:
        loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False
    forwarded = "x-forwarded-for" in headers or "forwarded" in headers
    return loopback and not (trust_proxy and forwarded)


class HostCheck:
    """ASGI middleware: 400 for a Host (or websocket Origin) that is not allowed."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed
        self.any_host = "*" in allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.any_host:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = host_name(headers.get("host", ""))
        problem = ""
        if host not in self.allowed:
            problem = (
                f"Host {host or '(none)'!r} is not allowed here. If this is your "
                "server's name, add it to OLYMPUS_ALLOWED_HOSTS."
            )
        elif scope["type"] == "websocket" and not origin_allowed(
            headers.get("origin"), self.allowed
        ):
            problem = "This page's origin is not allowed to open a connection here."
        if not problem:
            await self.app(scope, receive, send)
            return
        logger.warning(
            "front.host_refused",
            host=host[:100],
            kind=scope["type"],
            origin=headers.get("origin", "")[:100],
        )
        await refuse(scope, receive, send, PlainTextResponse(problem + "\n", status_code=400))


async def refuse(scope: Scope, receive: Receive, send: Send, response: PlainTextResponse) -> None:
    """Send ``response`` for an HTTP request, or as the refusal of a websocket upgrade."""
    if scope["type"] == "http":
        await response(scope, receive, send)
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
    else:
        await send({"type": "websocket.close", "code": 1008})
