"""Password-guessing limits that a stranger cannot turn against the owner.

Three kinds of budget, all within ``window_s``:

- Per client address (``per_address`` failures) and per network (``NETWORK_FACTOR`` times
  that, for the /24 of an IPv4 or the /56 of an IPv6 address, so rotating addresses in one
  network does not buy fresh budgets): a spent budget locks that address or network out for
  ``window_s``, doubling with each further lockout (up to ``MAX_LOCK_FACTOR`` times). When
  the lock has passed, the correct password is accepted again.
- A trusted browser, one whose cookie signed in here before (a "device cookie"), is judged
  only by its own budget: failures from strangers, whatever their addresses, never lock it
  out and never slow it down.
- For everyone else, all failures together (``global_max`` per window) turn on a global
  slow-down: each try waits a few seconds (at most ``GLOBAL_DELAY_MAX_S``) before its
  password is checked. It delays, it never refuses, so the owner still gets in.

Locks and counts are kept in a small JSON file in the data dir (written atomically), so a
front restart does not clear them. The clock is a constructor argument (tests drive time
without sleeping); it is the wall clock, since the file outlives the process. Memory and
the file stay bounded: at most ``max_keys`` addresses/networks and ``max_devices`` trusted
browsers are remembered.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from shared_utils.atomic import atomic_write_text

logger = structlog.get_logger(__name__)

NETWORK_FACTOR = 4  # a network's budget, in per-address budgets
MAX_LOCK_FACTOR = 16  # the longest lockout, in windows
GLOBAL_DELAY_STEP_S = 2.0  # per global budget spent within the window
GLOBAL_DELAY_MAX_S = 8.0
DEVICE_DAYS = 400  # a trusted browser is forgotten after this long without a sign-in
SAVE_EVERY_S = 2.0  # plain failures are saved at most this often; locks at once


@dataclass
class Budget:
    failures: list[float] = field(default_factory=list)
    strikes: int = 0  # lockouts so far (each one doubles the next)
    locked_until: float = 0.0
    last: float = 0.0


def network_of(address: str) -> str:
    """The network an address belongs to (its budget is shared), or "" for a non-IP.

    >>> network_of("203.0.113.77"), network_of("2001:db8:1:2::5"), network_of("unknown")
    ('203.0.113.0/24', '2001:db8:1::/56', '')
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 56
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def device_key(browser_id: str) -> str:
    return "d:" + hashlib.sha256(browser_id.encode("utf-8")).hexdigest()[:32]


class LoginThrottle:
    def __init__(
        self,
        *,
        per_address: int,
        global_max: int,
        window_s: float,
        clock: Callable[[], float] = time.time,
        state_path: Path | None = None,
        max_keys: int = 10_000,
        max_devices: int = 1_000,
    ) -> None:
        self.per_address = per_address
        self.global_max = global_max
        self.window_s = window_s
        self.clock = clock
        self.state_path = state_path
        self.max_keys = max_keys
        self.max_devices = max_devices
        self._budgets: OrderedDict[str, Budget] = OrderedDict()
        self._devices: OrderedDict[str, float] = OrderedDict()  # device key -> last sign-in
        self._all: list[float] = []  # failures of untrusted browsers, for the slow-down
        self._lock = threading.Lock()
        self._saved_at = 0.0
        self._load()

    # --- questions -----------------------------------------------------------------------
    def trusted(self, browser_id: str) -> bool:
        """Whether this browser signed in here before (within ``DEVICE_DAYS``)."""
        if not browser_id:
            return False
        with self._lock:
            last = self._devices.get(device_key(browser_id))
        return last is not None and self.clock() - last < DEVICE_DAYS * 86400

    def keys(self, address: str, browser_id: str) -> list[str]:
        """The budgets one try is counted in."""
        if self.trusted(browser_id):
            return [device_key(browser_id)]
        network = network_of(address)
        return ["a:" + address] + (["n:" + network] if network else [])

    def retry_after(self, keys: list[str]) -> tuple[float, str]:
        """(seconds until a try is allowed, "address"/"network"/"browser"); (0, "") now."""
        now = self.clock()
        with self._lock:
            waits = [
                (b.locked_until - now, k)
                for k in keys
                if (b := self._budgets.get(k)) and b.locked_until > now
            ]
        if not waits:
            return 0.0, ""
        wait, key = max(waits)
        return wait, {"a": "address", "n": "network", "d": "browser"}[key[0]]

    def slow_down(self, keys: list[str]) -> float:
        """Seconds an untrusted try waits before its password is checked (0: none)."""
        if any(k.startswith("d:") for k in keys):
            return 0.0
        with self._lock:
            self._expire_all(self.clock())
            spent = len(self._all) // self.global_max
        return min(GLOBAL_DELAY_MAX_S, GLOBAL_DELAY_STEP_S * spent)

    # --- outcomes ------------------------------------------------------------------------
    def failed(self, keys: list[str]) -> int:
        """Record a wrong password; returns the first budget's failures within the window
        (its whole budget when this failure locked it)."""
        now = self.clock()
        counts, locked = [], False
        with self._lock:
            for key in keys:
                count, just_locked = self._fail(key, now)
                counts.append(count)
                locked = locked or just_locked
            if not any(k.startswith("d:") for k in keys):
                self._all.append(now)
                self._expire_all(now)
        self._save(force=locked)
        return counts[0] if counts else 0

    def succeeded(self, keys: list[str], browser_id: str) -> None:
        """A right password: clear the address's (or browser's) budget and trust this
        browser from now on. The network's count stays (others may share it)."""
        now = self.clock()
        with self._lock:
            for key in keys:
                if not key.startswith("n:"):
                    self._budgets.pop(key, None)
            if browser_id:
                self._devices.pop(device_key(browser_id), None)
                self._devices[device_key(browser_id)] = now
                while len(self._devices) > self.max_devices:
                    self._devices.popitem(last=False)
        self._save(force=True)

    def _budget_of(self, key: str) -> int:
        if key.startswith("n:"):
            return self.per_address * NETWORK_FACTOR
        return self.per_address

    def _fail(self, key: str, now: float) -> tuple[int, bool]:
        budget = self._budgets.pop(key, None) or Budget()
        self._budgets[key] = budget  # most recent last
        while len(self._budgets) > self.max_keys:
            self._budgets.popitem(last=False)
        if budget.last and now - budget.last > self.window_s * MAX_LOCK_FACTOR:
            budget.strikes = 0  # quiet for long enough: forgiven
        budget.failures = [t for t in budget.failures if t + self.window_s > now] + [now]
        budget.last = now
        if len(budget.failures) < self._budget_of(key):
            return len(budget.failures), False
        budget.strikes += 1
        factor = min(MAX_LOCK_FACTOR, 2 ** (budget.strikes - 1))
        budget.locked_until = now + self.window_s * factor
        budget.failures = []
        logger.warning(
            "front.login.lockout",
            scope=key[0],
            strikes=budget.strikes,
            lock_s=round(self.window_s * factor),
        )
        return self._budget_of(key), True

    def _expire_all(self, now: float) -> None:
        self._all = [t for t in self._all if t + self.window_s > now][-self.global_max * 8 :]

    # --- the file ------------------------------------------------------------------------
    def _load(self) -> None:
        if self.state_path is None:
            return
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            now = self.clock()
            for key, row in data.get("budgets", {}).items():
                budget = Budget(**row)
                if budget.locked_until > now or budget.last + self.window_s * MAX_LOCK_FACTOR > now:
                    self._budgets[key] = budget
            self._devices.update((k, float(v)) for k, v in data.get("devices", {}).items())
            self._all = [float(t) for t in data.get("all", [])]
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            logger.warning(
                "front.login.state_unreadable", path=str(self.state_path), error=str(exc)
            )

    def _save(self, *, force: bool) -> None:
        if self.state_path is None:
            return
        now = self.clock()
        with self._lock:
            if not force and now - self._saved_at < SAVE_EVERY_S:
                return
            self._saved_at = now
            data = {
                "budgets": {k: vars(b) for k, b in self._budgets.items()},
                "devices": dict(self._devices),
                "all": list(self._all),
            }
        try:
            atomic_write_text(
                self.state_path, json.dumps(data), mode=0o600, prefix=".login_throttle."
            )
        except OSError as exc:
            logger.warning("front.login.state_unsaved", path=str(self.state_path), error=str(exc))
