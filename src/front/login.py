"""The sign-in page, sign-out and the front's own health, served by the front itself.

A plain HTML form (no JavaScript) posts the password to ``/_olympus/login``; on success the
front sets the signed cookie and sends the browser back to the page it came from (``next``,
a path on this site only). Wrong passwords are throttled per address and globally
(``throttle.py``) and logged with the address, never with the password.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import replace
from urllib.parse import parse_qs, quote

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from src.access.roles import SIGN_IN_PATH
from src.access.session_cookie import (
    COOKIE_NAME,
    Claims,
    new_browser_id,
    new_sign_in_id,
    password_fingerprint,
    verify,
)
from src.chat_store import carry_over
from src.data_dir import DataDir
from src.front.config import FrontConfig
from src.front.door import SET_PASSWORD as DOOR_HINT
from src.front.hosts import origin_allowed

logger = structlog.get_logger(__name__)

MAX_FORM_BYTES = 4096
FAILURE_DELAY_S = 0.3

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Olympus: sign in</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f6f6f9; margin: 0; }}
main {{ box-sizing: border-box; width: calc(100% - 2rem); max-width: 26rem;
        margin: 12vh auto; background: #fff; padding: 2rem;
        border-radius: .75rem; box-shadow: 0 1px 4px #0002; }}
h1 {{ margin-top: 0; font-size: 1.6rem; }}
label, input, button {{ display: block; width: 100%; box-sizing: border-box; font-size: 1rem; }}
input {{ margin: .4rem 0 1rem; padding: .55rem; border: 1px solid #bbb; border-radius: .4rem; }}
button {{ padding: .6rem; border: 0; border-radius: .4rem; background: #ff4b4b; color: #fff; }}
.error {{ color: #b00020; }} .hint {{ color: #555; font-size: .9rem; }}
</style></head>
<body><main>
<h1>Olympus</h1>
<p>{intro}</p>
{message}
<form method="post" action="{action}">
<input type="hidden" name="next" value="{next}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password"
 autofocus required>
<button type="submit">Sign in</button>
</form>
<p class="hint">{hint}</p>
</main></body></html>
"""


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else (another site) becomes "/".

    >>> safe_next("/documents?x=1"), safe_next("//evil.example/"), safe_next("https://e.x/")
    ('/documents?x=1', '/', '/')
    """
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value if all(31 < ord(c) < 127 for c in value) else "/"


def login_url(next_path: str) -> str:
    return f"{SIGN_IN_PATH}?next={quote(safe_next(next_path), safe='/')}"


def _locked(
    config: FrontConfig, next_path: str, address: str, scope: str, wait_s: float
) -> HTMLResponse:
    minutes = max(1, round(wait_s / 60))
    logger.warning("front.login.locked", address=address, scope=scope, retry_after_s=round(wait_s))
    who = {
        "address": "from your address",
        "network": "from your network",
        "browser": "from this browser",
    }[scope]
    return _page(
        config,
        next_path,
        f"Too many wrong passwords {who}. Try again in about {minutes} minute(s).",
        status=429,
        headers={"Retry-After": str(int(wait_s) + 1)},
    )


def _page(
    config: FrontConfig,
    next_path: str,
    message: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    policy = config.policy
    intro = (
        "This Olympus is protected. Enter the access password."
        if policy.password
        else "Sign in as administrator to manage documents and models."
    )
    hint = "Ask the person who runs this Olympus; it is set by OLYMPUS_PASSWORD" + (
        " (readers) and OLYMPUS_ADMIN_PASSWORD (administrators)." if policy.admin_password else "."
    )
    if config.door is not None:
        intro = (
            "This Olympus is reachable from other machines and has no password yet. "
            "Open the sign-in link printed in its log (it holds a one-time token), or "
            "enter that token here."
        )
        hint = DOOR_HINT
    body = _PAGE.format(
        intro=intro,
        hint=hint,
        action=SIGN_IN_PATH,
        next=html.escape(safe_next(next_path)),
        message=f'<p class="error" role="alert">{html.escape(message)}</p>' if message else "",
    )
    return HTMLResponse(body, status_code=status, headers=headers)


class LoginRoutes:
    def __init__(self, config: FrontConfig) -> None:
        self.config = config

    async def form(self, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if not self.config.policy.sign_in_useful:
            return RedirectResponse(next_path, status_code=303)
        token = request.query_params.get("token")
        if token and self.config.door is not None:  # the sign-in link from the log
            return await self.attempt(request, token, next_path)
        return _page(self.config, next_path)

    async def submit(self, request: Request) -> Response:
        config = self.config
        if not origin_allowed(request.headers.get("origin"), config.allowed):
            return PlainTextResponse("This form must be sent from this site.\n", status_code=403)
        body = await _read_form(request)
        if body is None:
            return PlainTextResponse("The sign-in form is too large.\n", status_code=413)
        return await self.attempt(request, body.get("password", ""), safe_next(body.get("next")))

    async def attempt(self, request: Request, given: str, next_path: str) -> Response:
        """One sign-in try with a password (or the door token), within the limits."""
        config = self.config
        address = config.address(request)
        _, old = config.access(request)
        old_id = old.browser_id if old else ""
        keys = config.throttle.keys(address, old_id)
        wait_s, scope = config.throttle.retry_after(keys)
        if wait_s > 0:
            return _locked(config, next_path, address, scope, wait_s)
        delay = config.throttle.slow_down(keys)
        if delay > 0:  # many wrong passwords lately: everyone unknown waits, nobody is refused
            logger.info("front.login.slowed", address=address, delay_s=delay)
            await asyncio.sleep(delay)
        role = config.policy.role_for_password(given)
        if role is None and config.door is not None and config.door.redeem(given):
            role = "admin"
        if role is None:
            failures = config.throttle.failed(keys)
            logger.warning("front.login.failed", address=address, failures=failures)
            await asyncio.sleep(FAILURE_DELAY_S)
            return _page(config, next_path, "Wrong password.", status=401)
        # a new browser id at every sign-in (a cookie planted before it is worth nothing
        # after), with this browser's saved chats carried over to it
        browser = new_browser_id()
        if old_id and config.data_dir is not None:
            carry_over(DataDir(config.data_dir).chats, old_id, browser)
        config.throttle.succeeded(keys, browser)
        claims = Claims(
            browser_id=browser,
            role=role,
            role_expires=config.wall() + config.session_s,
            fingerprint=password_fingerprint(config.policy, config.secret),
            sign_in=new_sign_in_id(),
        )
        logger.info("front.login.ok", address=address, role=role)
        response = RedirectResponse(next_path, status_code=303)
        response.headers.append("set-cookie", config.set_cookie_header(request, claims))
        return response

    async def logout(self, request: Request) -> Response:
        """Sign out: this sign-in is revoked on the server (a copy of the cookie stops
        working too) and the browser gets a cookie without a role."""
        config = self.config
        _, claims = config.access(request)
        target = login_url("/") if config.policy.anonymous_role == "none" else "/"
        response = RedirectResponse(target, status_code=303)
        if claims is not None:
            raw = verify_raw(request, config)
            if raw is not None and raw.sign_in and config.revocations is not None:
                config.revocations.revoke(raw.sign_in, raw.role_expires)
                logger.info("front.logout", sign_in=raw.sign_in[:6])
            signed_out = replace(claims, role="none", role_expires=0.0, sign_in="")
            response.headers.append("set-cookie", config.set_cookie_header(request, signed_out))
        return response

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")


async def _read_form(request: Request) -> dict[str, str] | None:
    """The url-encoded form (first value of each field), or None when it is too large."""
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(data.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def verify_raw(request: Request, config: FrontConfig) -> Claims | None:
    """The cookie's claims as signed (before revocation or expiry lower the role)."""
    return verify(
        request.cookies.get(COOKIE_NAME),
        config.secret,
        now=0.0,
        fingerprint=password_fingerprint(config.policy, config.secret),
    )
