"""A small thread-safe ring buffer of answer timings (for the System page)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TimingRecord:
    backend: str
    retrieval_ms: float | None
    first_token_ms: float | None
    total_ms: float | None
    tokens_per_s: float | None
    prompt_tokens: int = 0
    at: float = field(default_factory=time.time)


class TimingLog:
    """Keeps the last ``maxlen`` records; safe to use from concurrent sessions."""

    def __init__(self, maxlen: int = 50) -> None:
        self._items: deque[TimingRecord] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add_done(self, backend: str, timings: dict[str, float], prompt_tokens: int = 0) -> None:
        """Record the timings of one finished answer (a ``DoneEvent``)."""
        record = TimingRecord(
            backend=backend or "?",
            retrieval_ms=_num(timings.get("retrieval_ms")),
            first_token_ms=_num(timings.get("first_token_ms")),
            total_ms=_num(timings.get("total_ms")),
            tokens_per_s=_num(timings.get("tokens_per_s")),
            prompt_tokens=int(prompt_tokens or 0),
        )
        with self._lock:
            self._items.append(record)

    def records(self) -> list[TimingRecord]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._items))

    def summary(self) -> list[dict[str, object]]:
        """Per backend: answers, median retrieval ms, first-token ms and tokens/s."""
        by_backend: dict[str, list[TimingRecord]] = {}
        for rec in self.records():
            by_backend.setdefault(rec.backend, []).append(rec)
        rows = []
        for backend, recs in sorted(by_backend.items()):
            rows.append(
                {
                    "backend": backend,
                    "answers": len(recs),
                    "retrieval ms (median)": _whole(_median([r.retrieval_ms for r in recs])),
                    "first token ms (median)": _median([r.first_token_ms for r in recs]),
                    "tokens/s (median)": _median([r.tokens_per_s for r in recs]),
                }
            )
        return rows


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _median(values: list[float | None]) -> float | None:
    """
    >>> _median([3.0, None, 1.0, 2.0])
    2.0
    >>> _median([None]) is None
    True
    """
    nums = sorted(v for v in values if v is not None)
    if not nums:
        return None
    mid = len(nums) // 2
    value = nums[mid] if len(nums) % 2 else (nums[mid - 1] + nums[mid]) / 2
    return round(value, 1)
