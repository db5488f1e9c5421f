"""What the front needs to know, built once from the settings, and the per-request access."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import HTTPConnection

from src.access.roles import Access, Policy
from src.access.session_cookie import (
    COOKIE_NAME,
    MAX_AGE_S,
    Claims,
    Revocations,
    access_for,
    sign,
)
from src.front.door import DoorToken
from src.front.hosts import allowed_hosts, client_address, is_local_request
from src.front.throttle import LoginThrottle
from src.settings import Settings


@dataclass
class FrontConfig:
    upstream_port: int
    policy: Policy
    secret: bytes = field(repr=False)
    allowed: frozenset[str]
    trust_proxy: bool = False
    on_space: bool = False
    session_s: float = 168 * 3600.0
    throttle: LoginThrottle = field(
        default_factory=lambda: LoginThrottle(per_address=5, global_max=50, window_s=300.0)
    )
    wall: Callable[[], float] = time.time
    data_dir: Path | None = None
    revocations: Revocations | None = None
    max_upload_mb: int = 100
    session_queue_mb: int = 250
    queue_mb: int = 500
    door: DoorToken | None = None  # the one-time admin token when no password guards us

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        upstream_port: int,
        secret: bytes,
        clock: Callable[[], float] = time.time,
    ) -> FrontConfig:
        policy = Policy.from_settings(settings)
        return cls(
            upstream_port=upstream_port,
            policy=policy,
            secret=secret,
            door=DoorToken() if policy.closed else None,
            allowed=allowed_hosts(settings.space_host, settings.extra_allowed_hosts),
            trust_proxy=settings.behind_proxy or settings.on_space,
            on_space=settings.on_space,
            session_s=settings.session_hours * 3600.0,
            throttle=LoginThrottle(
                per_address=settings.login_max_failures,
                global_max=settings.login_global_max_failures,
                window_s=settings.login_lockout_s,
                clock=clock,
                state_path=settings.data.login_throttle,
            ),
            data_dir=settings.data_dir,
            revocations=Revocations(settings.data_dir),
            max_upload_mb=settings.max_upload_mb,
            session_queue_mb=settings.session_queue_mb,
            queue_mb=settings.queue_mb,
        )

    # --- per request -----------------------------------------------------------------------
    def access(self, conn: HTTPConnection) -> tuple[Access, Claims | None]:
        revoked = self.revocations.revoked if self.revocations else None
        return access_for(
            conn.cookies.get(COOKIE_NAME),
            self.policy,
            self.secret,
            now=self.wall(),
            revoked=revoked,
        )

    def address(self, conn: HTTPConnection) -> str:
        peer = conn.client.host if conn.client else ""
        return client_address(peer, conn.headers, trust_proxy=self.trust_proxy)

    def local(self, conn: HTTPConnection) -> bool:
        """Whether this request comes from this machine itself (not through a proxy)."""
        peer = conn.client.host if conn.client else ""
        return is_local_request(peer, conn.headers, trust_proxy=self.trust_proxy)

    def secure(self, conn: HTTPConnection) -> bool:
        """Whether the browser reached us over https (then the cookie is Secure)."""
        if self.on_space or conn.url.scheme in ("https", "wss"):
            return True
        proto = conn.headers.get("x-forwarded-proto", "") if self.trust_proxy else ""
        return proto.split(",")[-1].strip() == "https"

    def set_cookie_header(self, conn: HTTPConnection, claims: Claims) -> str:
        """The Set-Cookie value carrying ``claims``.

        HttpOnly, Path=/, SameSite=Lax; Secure over https. On a Space the app runs inside an
        iframe of huggingface.co, where a Lax cookie is never sent: there it is
        ``SameSite=None; Secure; Partitioned`` (kept per top-level site, so another site
        cannot use it), and the front's Origin check refuses cross-site websockets anyway.
        """
        parts = [
            f"{COOKIE_NAME}={sign(claims, self.secret)}",
            "Path=/",
            f"Max-Age={MAX_AGE_S}",
            "HttpOnly",
        ]
        if self.on_space:
            parts += ["SameSite=None", "Secure", "Partitioned"]
        else:
            parts.append("SameSite=Lax")
            if self.secure(conn):
                parts.append("Secure")
        return "; ".join(parts)
