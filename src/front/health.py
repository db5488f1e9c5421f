"""``/healthz``: the front's own health, for Docker's HEALTHCHECK and load balancers.

A JSON object: ``status`` ("ok" or "unavailable"), ``front`` ("ok": it answered),
``streamlit`` and ``api`` ("ok", "starting": answers but is not ready, "unreachable", or
"absent" for an API the front was not given). 200 when the UI answers (Streamlit behind the
front), else 503. The API's state is shown but does not decide: while it opens the library the
UI works and says so. No sign-in is needed; nothing private is shown.
"""

from __future__ import annotations

import asyncio

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PROBE_TIMEOUT_S = 2.0


class Health:
    def __init__(self, upstream_port: int, api_port: int | None = None) -> None:
        self.streamlit_url = f"http://127.0.0.1:{upstream_port}/_stcore/health"
        self.api_url = f"http://127.0.0.1:{api_port}/api/health" if api_port else None

    async def respond(self, request: Request) -> Response:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
            streamlit, api = await asyncio.gather(
                _probe(client, self.streamlit_url),
                _probe(client, self.api_url) if self.api_url else _absent(),
            )
        ok = streamlit == "ok"
        body = {
            "status": "ok" if ok else "unavailable",
            "front": "ok",
            "streamlit": streamlit,
            "api": api,
        }
        return JSONResponse(
            body, status_code=200 if ok else 503, headers={"cache-control": "no-store"}
        )


async def _probe(client: httpx.AsyncClient, url: str) -> str:
    try:
        reply = await client.get(url)
    except httpx.HTTPError:
        return "unreachable"
    return "ok" if reply.is_success else "starting"


async def _absent() -> str:
    return "absent"
