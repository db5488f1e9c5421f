"""Readiness: is a child answering HTTP yet? Checked against a deadline, logged while waiting."""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Literal

import structlog

logger = structlog.get_logger(__name__)

Probe = Callable[[str], bool]
Outcome = Literal["ready", "waiting", "timeout"]


def http_ok(url: str, timeout_s: float = 0.5) -> bool:
    """True when GET ``url`` answers 2xx; False while nothing (or an error page) answers.

    Connection refused and timeouts are the normal "not yet" of a starting server.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # local URL
            return 200 <= resp.status < 300
    except urllib.error.HTTPError:
        return False  # e.g. llama.cpp answers 503 while it loads the model
    except (urllib.error.URLError, http.client.HTTPException, OSError):
        return False


def port_open(host: str, port: int, timeout_s: float = 0.3) -> bool:
    """True when something already accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for a child bound to loopback)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ReadinessCheck:
    """One wait for one child: ``poll(now)`` says ready, still waiting, or out of time.

    While waiting it logs every ``log_every_s`` so a slow start is never silent.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        started: float,
        timeout_s: float,
        probe: Probe = http_ok,
        log_every_s: float = 5.0,
    ) -> None:
        self.name = name
        self.url = url
        self.started = started
        self.timeout_s = timeout_s
        self.probe = probe
        self.log_every_s = log_every_s
        self._next_log = started + log_every_s

    def poll(self, now: float) -> Outcome:
        if not self.url or self.probe(self.url):
            logger.info(
                "ready", child=self.name, url=self.url, waited_s=round(now - self.started, 2)
            )
            return "ready"
        if now - self.started >= self.timeout_s:
            logger.error(
                "not ready in time", child=self.name, url=self.url, deadline_s=self.timeout_s
            )
            return "timeout"
        if now >= self._next_log:
            logger.info(
                "waiting for readiness",
                child=self.name,
                url=self.url,
                waited_s=round(now - self.started, 1),
                deadline_s=self.timeout_s,
            )
            self._next_log = now + self.log_every_s
        return "waiting"


class LivenessCheck:
    """After readiness: probe every ``every_s``; ``poll`` turns False after ``failures``
    misses in a row, i.e. a child that is alive but has stopped answering (hung).

    Thresholds are conservative (about a minute of silence by default): a restart kills the
    answer in progress or every user session, so a busy moment must not trigger one.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        started: float,
        probe: Probe,
        every_s: float = 15.0,
        failures: int = 4,
    ) -> None:
        self.name = name
        self.url = url
        self.probe = probe
        self.every_s = every_s
        self.failures = failures
        self.misses = 0
        self._next = started + every_s

    def poll(self, now: float) -> bool:
        """False once the child is considered hung; True otherwise."""
        if not self.url or now < self._next:
            return True
        self._next = now + self.every_s
        if self.probe(self.url):
            if self.misses:
                logger.info("answering again", child=self.name, missed=self.misses)
            self.misses = 0
            return True
        self.misses += 1
        logger.warning(
            "not answering", child=self.name, url=self.url, misses=self.misses, limit=self.failures
        )
        return self.misses < self.failures
