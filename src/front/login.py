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

from src.access import SIGN_IN_PATH
from src.front.config import FrontConfig
from src.front.hosts import origin_allowed
from src.session_cookie import Claims, new_browser_id, password_fingerprint

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


def _page(config: FrontConfig, next_path: str, message: str = "", status: int = 200,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    policy = config.policy
    intro = ("This Olympus is protected. Enter the access password." if policy.password
             else "Sign in as administrator to manage documents and models.")
    hint = ("Ask the person who runs this Olympus; it is set by OLYMPUS_PASSWORD"
            + (" (readers) and OLYMPUS_ADMIN_PASSWORD (administrators)."
               if policy.admin_password else "."))
    body = _PAGE.format(intro=intro, hint=hint, action=SIGN_IN_PATH,
                        next=html.escape(safe_next(next_path)),
                        message=f'<p class="error" role="alert">{html.escape(message)}</p>'
                        if message else "")
    return HTMLResponse(body, status_code=status, headers=headers)


class LoginRoutes:
    def __init__(self, config: FrontConfig) -> None:
        self.config = config

    async def form(self, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if not self.config.policy.sign_in_useful:
            return RedirectResponse(next_path, status_code=303)
        return _page(self.config, next_path)

    async def submit(self, request: Request) -> Response:
        config = self.config
        if not origin_allowed(request.headers.get("origin"), config.allowed):
            return PlainTextResponse("This form must be sent from this site.\n", status_code=403)
        body = await _read_form(request)
        if body is None:
            return PlainTextResponse("The sign-in form is too large.\n", status_code=413)
        next_path = safe_next(body.get("next"))
        address = config.address(request)
        wait_s, scope = config.throttle.retry_after(address)
        if wait_s > 0:
            minutes = max(1, round(wait_s / 60))
            logger.warning("front.login.locked", address=address, scope=scope,
                           retry_after_s=round(wait_s))
            who = "from your address" if scope == "address" else "on this Olympus"
            return _page(config, next_path, f"Too many wrong passwords {who}. Try again in "
                         f"about {minutes} minute(s).", status=429,
                         headers={"Retry-After": str(int(wait_s) + 1)})
        role = config.policy.role_for_password(body.get("password", ""))
        if role is None:
            failures = config.throttle.failed(address)
            logger.warning("front.login.failed", address=address, failures=failures)
            await asyncio.sleep(FAILURE_DELAY_S)
            return _page(config, next_path, "Wrong password.", status=401)
        config.throttle.succeeded(address)
        _, claims = config.access(request)
        claims = Claims(browser_id=claims.browser_id if claims else new_browser_id(), role=role,
                        role_expires=config.wall() + config.session_s,
                        fingerprint=password_fingerprint(config.policy, config.secret))
        logger.info("front.login.ok", address=address, role=role)
        response = RedirectResponse(next_path, status_code=303)
        response.headers.append("set-cookie", config.set_cookie_header(request, claims))
        return response

    async def logout(self, request: Request) -> Response:
        config = self.config
        _, claims = config.access(request)
        target = login_url("/") if config.policy.password else "/"
        response = RedirectResponse(target, status_code=303)
        if claims is not None:
            signed_out = replace(claims, role="none", role_expires=0.0)
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
