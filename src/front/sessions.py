"""Which browser started which Streamlit session, so a websocket resumes only its own.

Streamlit's client passes a session id to resume as the third websocket subprotocol entry
(after ``streamlit`` and the XSRF token), and Streamlit resumes whatever live session that
names. Session ids travel in upload URLs, so the front remembers, from the first message
Streamlit sends on each connection (``new_session``), which browser id (the cookie's) a
session belongs to; a resume request for a session of another browser, or one the front
does not know, is forwarded without that entry, and Streamlit starts a fresh session.
"""

from __future__ import annotations

from collections import OrderedDict

import structlog

logger = structlog.get_logger(__name__)

LEARN_FRAMES = 50  # a session id comes in the first messages of a connection
MAX_SESSIONS = 20_000


class SessionOwners:
    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self.max_sessions = max_sessions
        self._owner: OrderedDict[str, str] = OrderedDict()

    def subprotocols(self, offered: list[str], browser_id: str) -> list[str]:
        """The subprotocol entries to forward: the resume entry only for this browser's own
        session."""
        if len(offered) < 3 or not offered[2].strip():
            return offered[:2]
        wanted = offered[2].strip()
        if browser_id and self._owner.get(wanted) == browser_id:
            return offered[:3]
        logger.info("front.websocket_resume_refused", known=wanted in self._owner)
        return offered[:2]

    def owner(self, session_id: str) -> str | None:
        """The browser id that started ``session_id`` (None: not known here)."""
        return self._owner.get(session_id)

    def learn(self, frame: bytes, browser_id: str) -> bool:
        """Record the session id in ``frame`` (a ForwardMsg) as ``browser_id``'s; True when
        one was found."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            msg = ForwardMsg.FromString(frame)
        except Exception:  # noqa: BLE001 - not a ForwardMsg: nothing to learn
            return False
        if not msg.HasField("new_session"):
            return False
        session_id = msg.new_session.initialize.session_id
        if not session_id or not browser_id:
            return False
        self._owner.pop(session_id, None)
        self._owner[session_id] = browser_id
        while len(self._owner) > self.max_sessions:
            self._owner.popitem(last=False)
        return True
