"""No open door: the one-time admin token of a start without a password on a public address.

On an address other machines reach (not loopback, not a Space) without OLYMPUS_PASSWORD,
nobody reads before signing in (``Policy.closed``). The front makes a token at start and
prints a sign-in link with it in the log, as Jupyter does; the first browser that opens it
signs in as administrator and is asked to set a password. The token works once (a restart
of the front prints a new one); typed into the sign-in form it works the same.
"""

from __future__ import annotations

import hmac
import secrets
import sys
import threading
from typing import TextIO

import structlog

from shared_utils.logging_setup import CONSOLE_TAG
from src.access.roles import SIGN_IN_PATH

logger = structlog.get_logger(__name__)

SET_PASSWORD = (
    "Set OLYMPUS_PASSWORD (readers) and OLYMPUS_ADMIN_PASSWORD (administrators) "
    "and restart Olympus; until then only the sign-in link from the log lets "
    "anyone in."
)


class DoorToken:
    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.used = False
        self._lock = threading.Lock()

    def redeem(self, given: str) -> bool:
        """True once, for the right token."""
        right = hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))
        with self._lock:
            if not right or self.used:
                return False
            self.used = True
        logger.warning("front.door_token_used", hint=SET_PASSWORD)
        return True

    def link(self, host: str, port: int) -> str:
        return f"http://{host}:{port}{SIGN_IN_PATH}?token={self.token}"

    def announce(self, address: str, port: int, *, out: TextIO | None = None) -> None:
        """The sign-in link on the console (``out``, standard error by default), the one place
        the token is shown: the structured log masks tokens, so it only says where to look."""
        host = "localhost" if address in ("0.0.0.0", "::", "") else address
        lines = (
            "This Olympus is reachable from other machines and has no password.",
            "Open this link once to sign in as administrator:",
            f"    {self.link(host, port)}",
            SET_PASSWORD,
        )
        print("\n".join(CONSOLE_TAG + line for line in lines), file=out or sys.stderr, flush=True)
        logger.warning(
            "front.no_password",
            address=address,
            message="reachable from other machines without a password: the one-time "
            "sign-in link is printed above this line",
            hint=SET_PASSWORD,
        )
