"""Publishes the supervisor's view into the status file that the UI and ``doctor`` read.

Sections (each also carries ``updated_at``, unix time):
- ``supervisor``: pid, started (unix time), state (starting/running/stopping/stopped/failed),
  exit_code once stopped
- ``engine``: engine (ollama/llamacpp/none/external), state (pending/waiting_for_model/
  starting/ready/restarting/down/stopped/disabled), url, pid, restarts, last_error, model,
  ready_after_s
- ``streamlit``: url, state, pid, restarts, last_error, ready_after_s
- ``provisioning``: phase, bytes, total, percent, speed (bytes/s), eta_s, message, error, model
- ``profile``: the environment profile as a dict
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shared_utils.types import Progress, ProgressCallback
from src.status import StatusFile

if TYPE_CHECKING:
    from src.models.profile import Profile


class StatusPublisher:
    def __init__(self, status: StatusFile, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.status = status
        self.clock = clock

    def reset(self, pid: int, started: float) -> None:
        """Start a fresh status for this run (a previous run's state must not linger)."""
        self.status.replace("supervisor", pid=pid, started=started, state="starting")
        self.status.replace("engine", state="pending")
        self.status.replace("streamlit", state="pending")
        self.status.replace("provisioning", phase="pending", error="")
        self.status.replace("profile")

    def section(self, name: str) -> Callable[..., dict[str, Any]]:
        """A ``publish(**fields)`` function merging fields into section ``name``."""
        return lambda **fields: self.status.update(name, **fields)

    def profile(self, profile: Profile) -> None:
        self.status.replace("profile", **as_dict(profile))

    def progress(self, model: str = "", *, min_interval_s: float = 0.25) -> ProgressCallback:
        """A progress callback writing the ``provisioning`` section (throttled)."""
        return _ProgressWriter(self.section("provisioning"), self.clock, model, min_interval_s)


class _ProgressWriter:
    """Turns ``Progress`` reports into phase, bytes, percent, speed and ETA."""

    def __init__(
        self,
        publish: Callable[..., Any],
        clock: Callable[[], float],
        model: str,
        min_interval_s: float,
    ) -> None:
        self.publish = publish
        self.clock = clock
        self.model = model
        self.min_interval_s = min_interval_s
        self._stage = ""
        self._last_write = float("-inf")
        self._last: tuple[float, int] | None = None  # (time, done) of the last speed sample
        self._speed = 0.0

    def __call__(self, p: Progress) -> None:
        now = self.clock()
        if p.stage != self._stage:
            self._stage, self._last, self._speed = p.stage, (now, p.done), 0.0
            self._write(p, now)
            return
        if self._last is not None and now > self._last[0] and p.done >= self._last[1]:
            rate = (p.done - self._last[1]) / (now - self._last[0])
            self._speed = rate if not self._speed else 0.7 * self._speed + 0.3 * rate
            self._last = (now, p.done)
        finished = bool(p.total) and p.done >= p.total
        if finished or now - self._last_write >= self.min_interval_s:
            self._write(p, now)

    def _write(self, p: Progress, now: float) -> None:
        self._last_write = now
        percent = round(100.0 * p.fraction, 1) if p.fraction is not None else None
        eta = None
        if p.total and self._speed > 0:
            eta = round(max(0, p.total - p.done) / self._speed, 1)
        fields: dict[str, Any] = dict(
            phase=p.stage,
            bytes=p.done,
            total=p.total,
            percent=percent,
            speed=round(self._speed, 1),
            eta_s=eta,
            message=p.message,
            error="",
        )
        if self.model:
            fields["model"] = self.model
        self.publish(**fields)


def as_dict(obj: Any) -> dict[str, Any]:
    """A JSON-safe dict of a dataclass, pydantic model or plain object."""
    if hasattr(obj, "as_dict"):
        raw = obj.as_dict()
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        raw = dataclasses.asdict(obj)
    elif hasattr(obj, "model_dump"):
        raw = obj.model_dump()
    elif isinstance(obj, dict):
        raw = obj
    else:
        raw = dict(vars(obj))
    return json.loads(json.dumps(raw, default=str))
