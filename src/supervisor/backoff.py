"""Restart policy: exponential backoff, capped, and a limit of failures per time window.

Pure logic on timestamps handed in by the caller, so it is tested without sleeping.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after a failure: restart after ``delay_s``, or give up (``delay_s`` None)."""

    delay_s: float | None
    failures_in_window: int

    @property
    def give_up(self) -> bool:
        return self.delay_s is None


class RestartPolicy:
    """Decides when a crashed child restarts, and when it stays down.

    The n-th consecutive failure waits ``base_s * 2**(n-1)`` seconds, at most ``max_s``.
    Once ``max_failures`` failures fall within the last ``window_s`` seconds the child stays
    down. A child that ran healthily for ``window_s`` starts over at ``base_s``.

    >>> p = RestartPolicy(base_s=1, max_s=5, max_failures=4, window_s=60)
    >>> [p.record_failure(t).delay_s for t in (0, 1, 3)]
    [1, 2, 4]
    >>> p.record_failure(7).give_up
    True
    """

    def __init__(self, *, base_s: float, max_s: float, max_failures: int, window_s: float) -> None:
        self.base_s = base_s
        self.max_s = max_s
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: deque[float] = deque()
        self._consecutive = 0
        self._last_start: float | None = None

    def record_start(self, now: float) -> None:
        self._last_start = now

    def record_failure(self, now: float) -> Decision:
        """Register a crash at ``now`` and decide what comes next."""
        if self._last_start is not None and now - self._last_start >= self.window_s:
            self._consecutive = 0  # it had been running fine for a whole window
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self.window_s:
            self._failures.popleft()
        self._consecutive += 1
        count = len(self._failures)
        if count >= self.max_failures:
            return Decision(None, count)
        delay = min(self.max_s, self.base_s * 2 ** (self._consecutive - 1))
        return Decision(delay, count)

    @property
    def restarts(self) -> int:
        """Failures currently counted in the window."""
        return len(self._failures)
