"""Keep secrets out of what is shown or logged: tokens, passwords, URL credentials.

One place decides what a secret looks like; the log processor, ``doctor --json`` and the
health details all go through :func:`redact` / :func:`scrub`.

>>> redact("pull failed: token = 'hf_abcdefghijklmnopqrstuvwxyz0123'")
"pull failed: token = '***'"
>>> redact("GET http://root:s3cret@arango:8529/_api/version")
'GET http://***@arango:8529/_api/version'
>>> redact("Authorization: Bearer abc.def.ghi")
'Authorization: Bearer ***'
>>> redact("the value is hunter22", secrets=["hunter22"])
'the value is ***'
>>> redact("password=hunter2 max_answer_tokens=320 OLYMPUS_HF_TOKEN=abc")
'password=*** max_answer_tokens=320 OLYMPUS_HF_TOKEN=***'
>>> scrub({"url": "https://u:p@h/x", "n": 3, "items": ["sk-proj-ABCDEFGHIJKLMNOP"]})
{'url': 'https://***@h/x', 'n': 3, 'items': ['***']}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
_TOKEN_RE = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{16,}"  # Hugging Face tokens
    r"|hf_oauth_[A-Za-z0-9_-]{16,}"
    r"|sk-[A-Za-z0-9_-]{16,}"  # OpenAI-style API keys
    r"|olk_[A-Za-z0-9_-]{20,}"  # Olympus API keys (a listed key's 10-character prefix stays)
    r"|gh[pousr]_[A-Za-z0-9]{20,})"  # GitHub tokens
)
# An Authorization header: whatever follows it is a credential ("Authorization: Token abc").
_AUTH_HEADER_RE = re.compile(
    r"(?i)\b((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?(?:[A-Za-z]+\s+)?)(?!\*\*\*)"
    r"[^\s'\",;)}]+"
)
# "Bearer <credential>" / "Basic <credential>" elsewhere: only when what follows looks like a
# credential (a digit, punctuation of base64/JWT/URL-safe alphabets, or a lower-to-upper case
# change), never an ordinary word ("basic authentication is off", "bearer of bad news").
_SCHEME_RE = re.compile(
    r"\b((?i:Bearer|Basic))\s+(?=[A-Za-z0-9._~+/=-]*(?:[0-9._~+/=_-]|[a-z][A-Z]))"
    r"[A-Za-z0-9._~+/=-]{6,}"
)
# user:password@ in a URL (also user@ alone: a token is often passed as the user name)
_URL_CREDS_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")
# password=..., "token": "...", api_key: ... (the value up to a quote, space, comma or &)
_KEY_VALUE_RE = re.compile(
    r"(?i)(\b(?:\w*_)?(?:password|passwd|secret|token|api[_-]?key)"
    r"(?P<quote>['\"]?)(?P<sep>\s*[=:]\s*)(?P<open>['\"]?))"
    r"(?!\*\*\*)(?P<value>[^\s'\",&;)}]+)"
)
# After "key: " in prose a plain number or duration is a figure, not a secret ("first token:
# 2.7 s"); "password=1234" (no space) and quoted values are still masked.
_FIGURE_RE = re.compile(r"\d+(?:\.\d+)?(?:m?s|%)?")
SECRET_KEYS = re.compile(r"(?i)(?:\w*_)?(?:password|passwd|secret|token|api_?key|authorization)")


def strip_url_credentials(url: str) -> str:
    """``url`` without ``user:password@``.

    >>> strip_url_credentials("http://u:p@host:8529")
    'http://***@host:8529'
    >>> strip_url_credentials("http://host:8529")
    'http://host:8529'
    """
    return _URL_CREDS_RE.sub(lambda m: m.group(1) + MASK + "@", url)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with token-shaped values, key=value secrets, URL credentials and the given
    secret values (settings marked secret) replaced by ``***``; ordinary words that merely
    contain "token", "secret" or "basic" are kept.

    >>> redact("first-token deadline 90s; fits a 4096-token context; basic auth is off")
    'first-token deadline 90s; fits a 4096-token context; basic auth is off'
    >>> redact("first token: 2.7 s, secret: s3cr3t-v4lue, Authorization: Token abcdef")
    'first token: 2.7 s, secret: ***, Authorization: Token ***'
    """
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, MASK)
    text = strip_url_credentials(text)
    text = _TOKEN_RE.sub(MASK, text)
    text = _AUTH_HEADER_RE.sub(lambda m: m.group(1) + MASK, text)
    text = _SCHEME_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _KEY_VALUE_RE.sub(_mask_value, text)


def _mask_value(m: re.Match[str]) -> str:
    prose = (
        ":" in m.group("sep")
        and not (m.group("quote") or m.group("open"))
        and m.group("sep") != m.group("sep").strip()
    )
    if prose and _FIGURE_RE.fullmatch(m.group("value")):
        return m.group(0)
    return m.group(1) + MASK


def scrub(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of ``obj`` (dicts, lists, tuples, strings) with every string redacted, and the
    values of secret-named keys (``password``, ``token``...) masked."""
    secrets = tuple(secrets)
    if isinstance(obj, str):
        return redact(obj, secrets)
    if isinstance(obj, dict):
        return {
            k: (
                MASK
                if isinstance(k, str) and SECRET_KEYS.fullmatch(k) and v and isinstance(v, str)
                else scrub(v, secrets)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(scrub(v, secrets) for v in obj)
    return obj
