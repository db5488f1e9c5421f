"""API keys on every request: ``Authorization: Bearer <key>`` (what the openai SDK sends).

The service token of this start (the UI and the CLI use it; scope ``admin``) or an active
key from the data dir's key store is accepted; anything else gets 401 in OpenAI's error shape.
What a key may do is its scope (``src/access/keys.py``): ``needed_scope`` says what each route
needs; a key below it gets 403. Paths in ``open_paths`` (readiness) need no key.
"""

from __future__ import annotations

import hmac

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from shared_utils.errors import InvalidApiKey, KeyScopeRefused
from src.access.keys import KeyStore, allows
from src.api.errors import send_error

logger = structlog.get_logger(__name__)

NO_KEY = "No valid API key was given."
# (method, path prefix) -> scope; anything else needs "read"
WRITE_ROUTES = (("POST", "/v1/documents"), ("DELETE", "/v1/documents/"), ("DELETE", "/v1/jobs/"))
ACTIONS = {"POST": "upload documents", "DELETE": "delete documents or cancel uploads"}


def needed_scope(method: str, path: str) -> str:
    """The scope a request needs.

    >>> needed_scope("POST", "/v1/search"), needed_scope("DELETE", "/v1/documents/ab12")
    ('read', 'write')
    """
    if any(
        method == m and (path == p or (p.endswith("/") and path.startswith(p)))
        for m, p in WRITE_ROUTES
    ):
        return "write"
    return "read"


class KeyAuth:
    def __init__(
        self, app: ASGIApp, *, keys: KeyStore, service_token: str, open_paths: frozenset[str]
    ) -> None:
        self.app = app
        self.keys = keys
        self.service_token = service_token
        self.open_paths = open_paths

    def identify(self, scope: Scope) -> tuple[str, str] | None:
        """Who sends this request and their scope: ("service", "admin"), (key id, scope),
        or None (no valid key)."""
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        if self.service_token and hmac.compare_digest(secret, self.service_token):
            return "service", "admin"
        key = self.keys.verify(secret)
        return (key.id, key.scope) if key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        who = self.identify(scope)
        if who is None:
            logger.info("api.refused", path=scope["path"], reason="no valid key")
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401})
                return
            await send_error(send, InvalidApiKey(NO_KEY))
            return
        caller, key_scope = who
        needed = needed_scope(scope.get("method", "GET"), scope["path"])
        if not allows(key_scope, needed):
            logger.info(
                "api.refused", path=scope["path"], key_id=caller, scope=key_scope, needed=needed
            )
            await send_error(
                send,
                KeyScopeRefused(
                    f"This API key has the scope {key_scope!r}; to "
                    f"{ACTIONS.get(scope.get('method', ''), 'do this')} it needs {needed!r}."
                ),
            )
            return
        state = scope.setdefault("state", {})
        state["caller"], state["scope"] = caller, key_scope
        await self.app(scope, receive, send)
