"""The signed browser cookie: a stable browser id and, after a sign-in, a role until a time.

Set only by the front (``src/front/``), HttpOnly, and read by the front on every request and
by the Streamlit script on every run (``st.context.cookies``). Its value is
``base64url(json claims) "." base64url(HMAC-SHA256)`` under a secret that is either
``OLYMPUS_SECRET_KEY`` or generated once into ``<data dir>/secret_key`` (mode 0600).

The claims also carry a fingerprint of the configured passwords, so changing a password
signs every browser out; the browser id survives that (chats are keyed on it).

Each sign-in has its own id (``sign_in``); signing out writes it to a revocation list in the
data dir (``revoked_sign_ins.json``, read by the front and the Streamlit script on every
request, re-read when it changes), so a copy of the cookie stops working too. A role
without a sign-in id (cookies from before this list existed) is not honoured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from shared_utils.atomic import atomic_write_text
from shared_utils.errors import SettingsError
from src.access.roles import Access, Policy, Role
from src.data_dir import DataDir

COOKIE_NAME = "olympus_session"
MAX_AGE_S = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days
_ROLES = ("none", "reader", "admin")


@dataclass(frozen=True)
class Claims:
    browser_id: str
    role: Role = "none"
    role_expires: float = 0.0  # epoch seconds; the role lapses to "none" after it
    fingerprint: str = ""
    sign_in: str = ""  # this sign-in's id, revoked at sign-out


def new_browser_id() -> str:
    return secrets.token_urlsafe(18)


def new_sign_in_id() -> str:
    return secrets.token_urlsafe(12)


class Revocations:
    """The signed-out sign-in ids of one data dir, each kept until its cookie would have
    lapsed anyway. Written by the front (atomically), read by every process."""

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = DataDir(data_dir).revoked_sign_ins
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: tuple[int, dict[str, float]] = (-1, {})

    def revoked(self, sign_in: str) -> bool:
        return sign_in in self._load()

    def revoke(self, sign_in: str, until: float) -> None:
        if not sign_in:
            return
        with self._lock:
            now = self.clock()
            kept = {k: v for k, v in self._load().items() if v > now}
            kept[sign_in] = max(until, now + 60)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(kept), mode=0o600, prefix=".revoked.")
            self._cache = (-1, {})

    def _load(self) -> dict[str, float]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._cache[0] != stamp:
            try:
                rows = json.loads(self.path.read_text(encoding="utf-8"))
                self._cache = (stamp, {str(k): float(v) for k, v in rows.items()})
            except (OSError, ValueError, TypeError, AttributeError):
                # unreadable: keep what was known (failing open would undo sign-outs)
                return self._cache[1]
        return self._cache[1]


def load_secret(data_dir: Path, configured: str = "") -> bytes:
    """``configured`` (OLYMPUS_SECRET_KEY), else the data dir's key, created once (0600).

    Safe when several processes start at once: the key is written to a private temp file
    and linked into place, and whoever loses the race reads the winner's key.
    """
    if configured:
        return configured.encode("utf-8")
    path = DataDir(data_dir).secret_key
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise SettingsError(
            f"{path} is too short to be a secret key.",
            hint="Delete the file (a new key is made at the next start; "
            "everyone signs in again) or set OLYMPUS_SECRET_KEY.",
        )
    return key.encode("utf-8")


STANDIN_PREFIX = "olympus-standin:"


def password_standin(password: str, secret: bytes) -> str:
    """What a process that checks cookies but never passwords (Streamlit) gets instead of
    a password: empty when it is empty, else a keyed one-way digest of it. It gives the same
    fingerprint as the password itself and signs nobody in.

    >>> password_standin("", b"k"), password_standin("pw", b"k").startswith(STANDIN_PREFIX)
    ('', True)
    """
    if not password or password.startswith(STANDIN_PREFIX):
        return password
    digest = hmac.new(secret, b"standin:" + password.encode("utf-8"), hashlib.sha256)
    return STANDIN_PREFIX + digest.hexdigest()


def password_fingerprint(policy: Policy, secret: bytes) -> str:
    """A short keyed digest of the passwords: a sign-in stays valid only while they do.
    The same for the passwords and for their stand-ins (``password_standin``)."""
    material = (
        f"{password_standin(policy.password, secret)}\0"
        f"{password_standin(policy.admin_password, secret)}"
    ).encode()
    return hmac.new(secret, b"pw:" + material, hashlib.sha256).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, b"cookie:" + payload.encode("ascii"), hashlib.sha256).digest())


def sign(claims: Claims, secret: bytes) -> str:
    """The cookie value for ``claims``."""
    body = {
        "b": claims.browser_id,
        "r": claims.role,
        "e": round(claims.role_expires),
        "p": claims.fingerprint,
        "s": claims.sign_in,
    }
    payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_mac(payload, secret)}"


def verify(
    value: str | None,
    secret: bytes,
    *,
    now: float,
    fingerprint: str,
    revoked: Callable[[str], bool] | None = None,
) -> Claims | None:
    """The claims of a genuine cookie (role lapsed to "none" when expired or when the
    passwords changed); None for a missing, forged or malformed one."""
    if not value or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    if not hmac.compare_digest(
        mac.encode("ascii", "replace"), _mac(payload, secret).encode("ascii")
    ):
        return None
    try:
        body = json.loads(_unb64(payload))
        claims = Claims(
            browser_id=str(body["b"]),
            role=body["r"],
            role_expires=float(body["e"]),
            fingerprint=str(body["p"]),
            sign_in=str(body.get("s", "")),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if claims.role not in _ROLES or not claims.browser_id:
        return None
    if (
        claims.role_expires <= now
        or not claims.sign_in
        or not hmac.compare_digest(claims.fingerprint.encode("utf-8"), fingerprint.encode("utf-8"))
        or (revoked is not None and claims.role != "none" and revoked(claims.sign_in))
    ):
        claims = replace(claims, role="none", role_expires=0.0)
    return claims


def access_for(
    value: str | None,
    policy: Policy,
    secret: bytes,
    *,
    now: float,
    revoked: Callable[[str], bool] | None = None,
) -> tuple[Access, Claims | None]:
    """This browser's rights from its cookie value, and the verified claims (None: no valid
    cookie, so the caller has no stable browser id yet). ``revoked``: whether a sign-in id
    was signed out (``Revocations.revoked``)."""
    claims = verify(
        value, secret, now=now, fingerprint=password_fingerprint(policy, secret), revoked=revoked
    )
    signed_in = claims is not None and claims.role != "none"
    role = policy.effective_role(claims.role if claims else None)
    return Access(
        role=role,
        browser_id=claims.browser_id if claims else "",
        signed_in=signed_in,
        policy=policy,
    ), claims
