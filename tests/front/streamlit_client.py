"""A minimal Streamlit websocket client: what a browser (or an attacker's script) sends.

Opens ``/_stcore/stream`` with Streamlit's subprotocol list (``streamlit``, the XSRF token,
an existing session id to resume), asks for a script run, and collects the text the run
shows until it finishes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect


@dataclass
class Run:
    session_id: str = ""
    texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def _texts(msg: ForwardMsg) -> list[str]:
    if not msg.HasField("delta") or not msg.delta.HasField("new_element"):
        return []
    el = msg.delta.new_element
    kind = el.WhichOneof("type")
    inner = getattr(el, kind, None)
    for attr in ("body", "label", "text"):
        value = getattr(inner, attr, None)
        if isinstance(value, str) and value:
            return [value]
    return []


async def run_page(
    ws_url: str,
    *,
    cookie: str = "",
    xsrf: str = "",
    session_id: str = "",
    page: str = "",
    host: str = "",
    origin: str = "",
    timeout: float = 60.0,
) -> Run:
    """Connect, run the script once (on ``page``), return the session id and its texts."""
    headers, dial = {}, {}
    if cookie:
        headers["Cookie"] = cookie
    if host:  # send this Host header but still dial the real address
        parts = urlsplit(ws_url)
        dial = {"host": parts.hostname, "port": parts.port}
        ws_url = parts._replace(netloc=f"{host}:{parts.port}").geturl()
    if origin:
        headers["Origin"] = origin
    # Streamlit's client always sends a token in second place (a stale one when it has none)
    protocols = ["streamlit", xsrf or "none"] + ([session_id] if session_id else [])
    run = Run()
    async with connect(
        ws_url,
        subprotocols=protocols,
        additional_headers=headers,
        max_size=None,
        open_timeout=timeout,
        **dial,
    ) as ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        back.rerun_script.page_name = page
        await ws.send(back.SerializeToString())

        async def collect() -> None:
            async for data in ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                if msg.HasField("new_session"):
                    run.session_id = msg.new_session.initialize.session_id
                run.texts += _texts(msg)
                if msg.HasField("script_finished"):
                    return

        await asyncio.wait_for(collect(), timeout)
    return run


def run_page_sync(ws_url: str, **kwargs) -> Run:
    return asyncio.run(run_page(ws_url, **kwargs))
