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
    r"|gh[pousr]_[A-Za-z0-9]{20,})"  # GitHub tokens
)
_BEARER_RE = re.compile(r"(?i)\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}")
# user:password@ in a URL (also user@ alone: a token is often passed as the user name)
_URL_CREDS_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]+@")
# password=..., "token": "...", api_key: ... (the value up to a quote, space, comma or &)
_KEY_VALUE_RE = re.compile(
    r"(?i)(\b(?:\w*_)?(?:password|passwd|secret|token|api[_-]?key)['\"]?\s*[=:]\s*['\"]?)"
    r"(?!\*\*\*)[^\s'\",&;)}]+"
)
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
    secret values (settings marked secret) replaced by ``***``."""
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, MASK)
    text = strip_url_credentials(text)
    text = _TOKEN_RE.sub(MASK, text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _KEY_VALUE_RE.sub(lambda m: m.group(1) + MASK, text)


def scrub(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of ``obj`` (dicts, lists, tuples, strings) with every string redacted, and the
    values of secret-named keys (``password``, ``token``...) masked."""
    secrets = tuple(secrets)
    if isinstance(obj, str):
        return redact(obj, secrets)
    if isinstance(obj, dict):
        return {k: (MASK if isinstance(k, str) and SECRET_KEYS.fullmatch(k) and v
                    and isinstance(v, str) else scrub(v, secrets))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(scrub(v, secrets) for v in obj)
    return obj
