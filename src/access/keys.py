"""API keys: created and revoked by an admin, kept hashed in the data dir (0600).

A key is ``olk_`` + 43 random URL-safe characters, shown once when it is made. The file
``api_keys.json`` keeps, per key, an id, a name, its scope, the first characters (to
recognise it in a list), the SHA-256 of the whole key and its creation/revocation times;
never the key.

Scopes (``SCOPES``, each includes the ones before it): ``read`` searches, asks and lists;
``write`` also uploads and deletes documents; ``admin`` also manages keys and models. A key
made before scopes existed has none in the file and works as ``write`` (what it could do). A
SHA-256 is enough for a 256-bit random secret (no dictionary to guess from).

The service token is the supervisor's own key for its children (the UI) and the CLI: a fresh
random value per start in ``service.token`` (0600), readable by whoever can read the data.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from shared_utils.atomic import atomic_write_text
from shared_utils.errors import OlympusError
from src.data_dir import DataDir

logger = structlog.get_logger(__name__)

PREFIX = "olk_"
SHOWN_CHARS = 10  # "olk_" + 6 characters identify a key in lists
SCOPES = ("read", "write", "admin")  # each includes the ones before it
DEFAULT_SCOPE = "read"  # `keys create` without --scope, and the System page's first choice
LEGACY_SCOPE = "write"  # keys made before scopes existed


def allows(scope: str, needed: str) -> bool:
    """True when a key of ``scope`` may do what needs ``needed``.

    >>> allows("write", "read"), allows("read", "write"), allows("admin", "write")
    (True, False, True)
    """
    return scope in SCOPES and SCOPES.index(scope) >= SCOPES.index(needed)


class KeyNotFound(OlympusError):
    hint = "List the keys with `python -m src keys list` and give an id from it."


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    shown: str  # the first characters of the key
    sha256: str
    created_at: float
    revoked_at: float | None = None
    scope: str = LEGACY_SCOPE  # a key without one in the file predates scopes

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    """The keys of one data dir; safe across threads and processes (file lock)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = DataDir(data_dir).keys
        self._lock = threading.Lock()
        self._cache: tuple[float, list[ApiKey]] | None = None

    # --- admin -------------------------------------------------------------------------------
    def create(self, name: str, scope: str = DEFAULT_SCOPE) -> tuple[ApiKey, str]:
        """A new key called ``name`` with ``scope``: its record and the secret (shown once,
        never stored)."""
        name = " ".join(name.split())[:80]
        if not name:
            raise OlympusError(
                "A key needs a name.",
                hint="Name it for who uses it, e.g. `python -m src keys create laptop`.",
            )
        if scope not in SCOPES:
            raise OlympusError(
                f"There is no key scope {scope!r}.", hint=f"Use one of: {', '.join(SCOPES)}."
            )
        secret = PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=secrets.token_hex(4),
            name=name,
            shown=secret[:SHOWN_CHARS],
            sha256=_digest(secret),
            created_at=time.time(),
            scope=scope,
        )
        with self._exclusive():
            self._write([*self._read(), key])
        logger.info("api.key_created", key_id=key.id, name=name, scope=scope)
        return key, secret

    def list(self) -> builtins.list[ApiKey]:
        return self._load()

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke the key with id ``key_id`` (it stops working at once)."""
        with self._exclusive():
            keys = self._read()
            match = [k for k in keys if k.id == key_id.strip()]
            if not match:
                raise KeyNotFound(f"No API key has the id {key_id!r}.")
            revoked = ApiKey(
                **{**asdict(match[0]), "revoked_at": match[0].revoked_at or time.time()}
            )
            self._write([revoked if k.id == revoked.id else k for k in keys])
        logger.info("api.key_revoked", key_id=revoked.id, name=revoked.name)
        return revoked

    # --- checking --------------------------------------------------------------------------
    def verify(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None."""
        if not secret.startswith(PREFIX):
            return None
        digest = _digest(secret)
        for key in self._load():
            if key.active and hmac.compare_digest(key.sha256, digest):
                return key
        return None

    # --- file --------------------------------------------------------------------------------
    def _load(self) -> builtins.list[ApiKey]:
        """The keys, re-read when the file changed (a revocation applies to the next call)."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        with self._lock:
            if self._cache is None or self._cache[0] != stamp:
                self._cache = (stamp, self._read())
            return list(self._cache[1])

    def _read(self) -> builtins.list[ApiKey]:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise OlympusError(
                f"{self.path} cannot be read ({exc}).",
                hint="Restore it from a backup or delete it and create the keys again.",
            ) from exc
        return [ApiKey(**row) for row in rows]

    def _write(self, keys: builtins.list[ApiKey]) -> None:
        atomic_write_text(
            self.path,
            json.dumps([asdict(k) for k in keys], indent=1),
            mode=0o600,
            prefix=".api_keys.",
        )

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        with open(lock, "a") as fh:
            os.chmod(lock, 0o600)
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield


# --- the service token -----------------------------------------------------------------------
def new_service_token(data_dir: Path) -> str:
    """(Supervisor, at each start) a fresh service token, written 0600 for the CLI."""
    token = "ols_" + secrets.token_urlsafe(32)
    path = DataDir(data_dir).service_token
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, token, mode=0o600, prefix=".service.")
    return token


def read_service_token(data_dir: Path) -> str:
    """The running service's token, or "" when there is none (or it is unreadable)."""
    try:
        return DataDir(data_dir).service_token.read_text().strip()
    except OSError:
        return ""
