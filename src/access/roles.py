"""Who may do what: the reader and admin roles, decided once from the settings.

Roles, lowest first: ``none`` (must sign in), ``reader`` (chat, search, upload), ``admin``
(delete documents, use/delete/pull models, change settings). What a browser gets:

- With no access password every visitor reads; with ``OLYMPUS_PASSWORD`` set a visitor must
  sign in with it first.
- No open door: on an address other machines reach (not loopback, not a Space) without
  ``OLYMPUS_PASSWORD``, nobody reads before signing in (``closed``); the front makes a
  one-time admin token at start and prints a sign-in link with it (``src/front/door.py``).
- Admin: signing in with ``OLYMPUS_ADMIN_PASSWORD`` when one is set. Without one, a bare
  machine keeps the old single-user behaviour (everyone who may read administers), while a
  Space (``SPACE_ID`` set) refuses admin actions: the System page says how to enable them.

The sign-in is carried by the signed browser cookie (``src/access/session_cookie.py``); this
module only turns a cookie's claims into rights. Admin actions call ``require_admin``
themselves, so hiding a button is never the only guard.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Literal

from shared_utils.errors import OlympusError
from src.settings import Settings

Role = Literal["none", "reader", "admin"]
_RANK = {"none": 0, "reader": 1, "admin": 2}
SIGN_IN_PATH = "/_olympus/login"
SIGN_OUT_PATH = "/_olympus/logout"


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of two passwords.

    >>> password_matches("s3cret", "s3cret"), password_matches("s3cre", "s3cret")
    (True, False)
    """
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Forbidden(OlympusError):
    """An action this browser's role does not allow."""

    hint = f"Sign in as administrator at {SIGN_IN_PATH} with OLYMPUS_ADMIN_PASSWORD."


@dataclass(frozen=True)
class Policy:
    """The access rules of this installation (from settings; holds the passwords)."""

    password: str = ""
    admin_password: str = ""
    on_space: bool = False
    model_pulls: bool = True
    closed: bool = False  # reachable from other machines without a password: token only

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        closed = (
            not settings.password
            and not settings.on_space
            and not _loopback(settings.address or "127.0.0.1")
        )
        return cls(
            password=settings.password,
            admin_password=settings.admin_password,
            on_space=settings.on_space,
            model_pulls=settings.model_pulls_allowed,
            closed=closed,
        )

    def __repr__(self) -> str:  # never show the passwords
        return (
            f"Policy(password={'set' if self.password else 'unset'}, admin_password="
            f"{'set' if self.admin_password else 'unset'}, on_space={self.on_space})"
        )

    @property
    def admin_by_default(self) -> bool:
        """Whoever may read also administers: a bare machine with no admin password."""
        return not self.admin_password and not self.on_space

    @property
    def anonymous_role(self) -> Role:
        """The role of a browser that has not signed in."""
        if self.password or self.closed:
            return "none"
        return "admin" if self.admin_by_default else "reader"

    @property
    def sign_in_useful(self) -> bool:
        """Whether signing in can raise a browser's role above the anonymous one."""
        return bool(self.password or self.admin_password or self.closed)

    def role_for_password(self, given: str) -> Role | None:
        """The role ``given`` signs in as, or None when it is wrong. Both comparisons run
        in constant time, always both, so timing does not tell which password matched."""
        admin = password_matches(given, self.admin_password) and bool(self.admin_password)
        reader = password_matches(given, self.password) and bool(self.password)
        if admin:
            return "admin"
        if reader:
            return "admin" if self.admin_by_default else "reader"
        return None

    def effective_role(self, signed_in_as: Role | None) -> Role:
        """The higher of the anonymous role and the role a valid sign-in granted."""
        granted = signed_in_as or "none"
        return max(self.anonymous_role, granted, key=_RANK.__getitem__)


@dataclass(frozen=True)
class Access:
    """One browser's rights for one request or script run."""

    role: Role
    browser_id: str
    signed_in: bool
    policy: Policy

    @property
    def can_read(self) -> bool:
        return _RANK[self.role] >= _RANK["reader"]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def require_admin(self, action: str) -> None:
        """Raise ``Forbidden`` unless this browser administers; the hint says how to."""
        if self.is_admin:
            return
        raise Forbidden(f"Only an administrator may {action}.", hint=admin_hint(self.policy))

    def require_model_pulls(self) -> None:
        """Raise ``Forbidden`` when pulls from the UI are off or this browser is no admin."""
        self.require_admin("download models")
        if not self.policy.model_pulls:
            raise Forbidden(
                "Downloading models from the app is turned off on this Space.",
                hint="Set OLYMPUS_ALLOW_MODEL_PULLS=true in the Space's variables to allow it.",
            )


def _loopback(address: str) -> bool:
    """Whether a bind address is reachable from this machine only.

    >>> _loopback("127.0.0.1"), _loopback("localhost"), _loopback("0.0.0.0"), _loopback("::")
    (True, True, False, False)
    """
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume others can reach it


def admin_hint(policy: Policy) -> str:
    """How to become administrator here, in words for the person running Olympus."""
    if policy.admin_password:
        return (
            f"Sign in as administrator at {SIGN_IN_PATH} with the admin password "
            "(OLYMPUS_ADMIN_PASSWORD)."
        )
    if policy.on_space:
        return (
            "Admin actions are off on this Space because no admin password is set: add "
            "the secret OLYMPUS_ADMIN_PASSWORD in the Space's settings (Settings > "
            f"Variables and secrets), restart the Space, then sign in at {SIGN_IN_PATH}."
        )
    return "Set OLYMPUS_ADMIN_PASSWORD and restart Olympus, then sign in with it."
