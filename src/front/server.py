"""The front's HTTP server protocol: uvicorn's h11 protocol with a deadline on headers.

uvicorn waits for a request's headers as long as the client likes (its keep-alive timeout
stops at the first byte), so a client that trickles a header line every few seconds holds a
connection forever. Here a connection whose request line and headers are not complete
``HEADER_TIMEOUT_S`` after it opened (or after its previous response) is closed. Bodies have
their own idle deadline where they are read (``api_proxy.py``, ``proxy.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = structlog.get_logger(__name__)

HEADER_TIMEOUT_S = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    _generation = 0  # requests answered on this connection; a deadline is for one of them

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._generation += 1
        self._arm()

    def _arm(self) -> None:
        self.loop.call_later(HEADER_TIMEOUT_S, self._headers_due, self._generation)

    def _headers_due(self, generation: int) -> None:
        if (
            generation != self._generation
            or self.transport.is_closing()
            or self.conn.their_state is not h11.IDLE
        ):
            return
        if self.conn.trailing_data[0]:  # part of a request came, never all of its headers
            logger.info("front.headers_too_slow", timeout_s=HEADER_TIMEOUT_S)
        self.transport.close()


def server_options() -> dict[str, Any]:
    """uvicorn.run options for the front's protocol."""
    return {"http": HeaderDeadlineProtocol}
