"""A slot holds one supervised child across restarts: its state, backoff and status.

States: ``starting`` (spawned, not answering yet), ``ready``, ``restarting`` (crashed,
waiting out the backoff), ``down`` (gave up after too many failures), ``stopped``.
The supervisor's main thread calls ``tick(now)``; nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from src.supervisor.backoff import RestartPolicy
from src.supervisor.process import ChildSpec, Process, ProcessFactory, exit_reason
from src.supervisor.readiness import LivenessCheck, Probe, ReadinessCheck

logger = structlog.get_logger(__name__)

Publish = Callable[..., Any]  # publish(**fields) merges fields into this child's status section


class Slot:
    def __init__(
        self,
        spec: ChildSpec,
        *,
        spawn: ProcessFactory,
        policy: RestartPolicy,
        probe: Probe,
        ready_timeout_s: float,
        grace_s: float,
        publish: Publish,
        fatal: bool = False,
        live_probe: Probe | None = None,
        live_every_s: float = 15.0,
        live_failures: int = 4,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.spawn = spawn
        self.policy = policy
        self.probe = probe
        self.ready_timeout_s = ready_timeout_s
        self.grace_s = grace_s
        self.publish = publish
        self.fatal = fatal  # when it stays down, the whole supervisor gives up
        self.state = "stopped"
        self.process: Process | None = None
        self.restarts = 0
        self.last_error = ""
        self.ready_after_s: float | None = None
        self._check: ReadinessCheck | None = None
        self._live: LivenessCheck | None = None
        self.live_probe = live_probe or probe
        self.live_every_s = live_every_s
        self.live_failures = live_failures
        self._restart_at = 0.0

    # --- transitions -------------------------------------------------------------------------
    def start(self, now: float) -> None:
        self.process = self.spawn(self.spec)
        self.policy.record_start(now)
        self._check = ReadinessCheck(
            self.name,
            self.spec.ready_url,
            started=now,
            timeout_s=self.ready_timeout_s,
            probe=self.probe,
        )
        self.state = "starting"
        self.publish(
            state="starting",
            pid=self.process.pid,
            url=self.spec.url,
            restarts=self.restarts,
            last_error=self.last_error,
            **self.spec.info,
        )

    def tick(self, now: float) -> None:
        """Advance: notice a crash, readiness or a timeout; restart when the backoff is over."""
        if self.state in ("starting", "ready") and self.process is not None:
            code = self.process.poll()
            if code is not None:
                error = getattr(self.process, "error", "") or exit_reason(code)
                self._failed(now, error)
                return
        if self.state == "starting" and self._check is not None:
            outcome = self._check.poll(now)
            if outcome == "ready":
                self.state = "ready"
                self.ready_after_s = round(now - self._check.started, 3)
                self._live = LivenessCheck(
                    self.name,
                    self.spec.ready_url,
                    started=now,
                    probe=self.live_probe,
                    every_s=self.live_every_s,
                    failures=self.live_failures,
                )
                self.publish(state="ready", ready_after_s=self.ready_after_s)
            elif outcome == "timeout":
                self._failed(now, f"not ready within {self.ready_timeout_s:g} s")
        elif self.state == "ready" and self._live is not None and not self._live.poll(now):
            self._failed(
                now,
                f"stopped answering {self.spec.ready_url} ({self._live.misses} checks in a row)",
            )
        elif self.state == "restarting" and now >= self._restart_at:
            logger.info("restarting child", child=self.name, restarts=self.restarts)
            self.start(now)

    def stop(self) -> int | None:
        """Stop the child (grace period, then SIGKILL of its group)."""
        code = None
        if self.process is not None:
            code = self.process.stop(self.grace_s)
            self.process = None
        if self.state != "down":
            self.state = "stopped"
        self.publish(state=self.state, pid=None)
        return code

    # --- helpers -------------------------------------------------------------------------------
    def _failed(self, now: float, error: str) -> None:
        if self.process is not None:
            self.process.stop(self.grace_s)
            self.process = None
        self.last_error = error
        decision = self.policy.record_failure(now)
        if decision.give_up:
            self.state = "down"
            logger.error(
                "child stays down",
                child=self.name,
                error=error,
                failures=decision.failures_in_window,
                window_s=self.policy.window_s,
            )
            self.publish(state="down", pid=None, last_error=error, restarts=self.restarts)
            return
        self.restarts += 1
        self.state = "restarting"
        self._restart_at = now + (decision.delay_s or 0.0)
        logger.warning(
            "child failed, restarting after backoff",
            child=self.name,
            error=error,
            delay_s=decision.delay_s,
            restarts=self.restarts,
        )
        self.publish(
            state="restarting",
            pid=None,
            last_error=error,
            restarts=self.restarts,
            restart_in_s=decision.delay_s,
        )

    @property
    def alive(self) -> bool:
        return self.state in ("starting", "ready", "restarting")
