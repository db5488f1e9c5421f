"""API keys on every request: ``Authorization: Bearer <key>`` (what the openai SDK sends).

The service token of this start (the UI and the CLI use it) or an active key from the data
dir's key store is accepted; anything else gets 401 in OpenAI's error shape. Paths in
``open_paths`` (readiness) need no key.
"""

from __future__ import annotations

import hmac
import json

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from src.api.keys import KeyStore

logger = structlog.get_logger(__name__)

NO_KEY = ("No valid API key was given. Send one as 'Authorization: Bearer <key>'; an admin "
          "creates keys with `python -m src keys create NAME` or on the System page.")


class KeyAuth:
    def __init__(self, app: ASGIApp, *, keys: KeyStore, service_token: str,
                 open_paths: frozenset[str]) -> None:
        self.app = app
        self.keys = keys
        self.service_token = service_token
        self.open_paths = open_paths

    def identify(self, scope: Scope) -> str | None:
        """Who sends this request: "service", a key id, or None (no valid key)."""
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        if self.service_token and hmac.compare_digest(secret, self.service_token):
            return "service"
        key = self.keys.verify(secret)
        return key.id if key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        caller = self.identify(scope)
        if caller is None:
            logger.info("api.refused", path=scope["path"], reason="no valid key")
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401})
                return
            body = json.dumps({"error": {"message": NO_KEY, "type": "invalid_request_error",
                                         "param": None, "code": "invalid_api_key"}}).encode()
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)
