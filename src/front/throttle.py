"""Password-guessing limits: per client address and for all addresses together.

An address that fails ``per_address`` times within ``window_s`` is locked out for
``window_s`` from that failure; when ``global_max`` failures (from any addresses) fall
within ``window_s``, every sign-in waits until the oldest of them leaves the window. A
success clears that address's failures. The clock is a constructor argument (tests drive
time without sleeping). Memory stays bounded: at most ``max_addresses`` are remembered.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, *, per_address: int, global_max: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic, max_addresses: int = 10_000) -> None:
        self.per_address = per_address
        self.global_max = global_max
        self.window_s = window_s
        self.clock = clock
        self.max_addresses = max_addresses
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()
        self._locked: dict[str, float] = {}  # address -> locked until
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> tuple[float, str]:
        """(seconds to wait, "address" or "global"); (0, "") when a try is allowed now."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            if address in self._locked:
                return self._locked[address] - now, "address"
            if len(self._all) >= self.global_max:
                return self._all[0] + self.window_s - now, "global"
        return 0.0, ""

    def failed(self, address: str) -> int:
        """Record a wrong password; returns this address's failures within the window."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            mine = self._by_address.pop(address, None) or deque()
            mine.append(now)
            self._by_address[address] = mine  # most recent last
            while len(self._by_address) > self.max_addresses:
                self._by_address.popitem(last=False)
            self._all.append(now)
            while len(self._all) > self.global_max:
                self._all.popleft()
            if len(mine) >= self.per_address:
                self._locked[address] = now + self.window_s
                mine.clear()
            return len(mine) or self.per_address

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._by_address.pop(address, None)
            self._locked.pop(address, None)

    def _expire(self, now: float) -> None:
        while self._all and self._all[0] + self.window_s <= now:
            self._all.popleft()
        for address in [a for a, until in self._locked.items() if until <= now]:
            del self._locked[address]
        for address in list(self._by_address):
            mine = self._by_address[address]
            while mine and mine[0] + self.window_s <= now:
                mine.popleft()
            if not mine:
                del self._by_address[address]
