"""Is the service that owns this data dir's stores up, starting, or not there at all?

``startup.py`` runs the service API (``python -m src.api``), which opens the stores; Milvus
Lite allows one process per data dir, so nothing else may open them while it runs or
starts. Three facts answer the question, all read without importing a store module:

- ``<data_dir>/.lock``: held by a supervisor while it runs (``src.supervisor.lock.held``);
- ``status.json``, section ``api``: the service's state and URL (published by the supervisor);
- ``service.token``: the token of this start (0600).

``connect`` turns them into a decision: the service answers -> a ``RemotePipeline``; a
supervisor runs but its service does not answer yet -> wait for it (saying so once), then
the ``RemotePipeline``, or ``ServiceStarting`` after ``wait_s``; no supervisor -> None (the
caller opens the stores itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from shared_utils.errors import ServiceStarting
from src.access.keys import read_service_token
from src.data_dir import DataDir
from src.service.client import STARTUP_WAIT_S, RemotePipeline
from src.status import StatusFile
from src.supervisor.lock import held

logger = structlog.get_logger(__name__)

POLL_S = 0.25  # status.json and the health URL, while the service starts
HEALTH_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Sighting:
    """What the data dir says about its service at one moment."""

    supervised: bool  # a supervisor holds the data dir (its service runs or starts)
    state: str  # the ``api`` section's state: starting/ready/restarting/down/stopped, or ""
    url: str
    token: str

    @property
    def ready(self) -> bool:
        return self.state == "ready" and bool(self.url)


def look(settings: Any) -> Sighting:
    """The service as ``settings.data_dir`` describes it now (no network)."""
    supervised = held(settings.data_dir)
    status = StatusFile(settings.status_path).typed()
    state = status.api.state
    if supervised and _older_than_this_start(status.api.updated_at, status.supervisor.started):
        state = ""  # a previous run's "ready": this supervisor has not started its service yet
    return Sighting(
        supervised=supervised,
        state=state,
        url=status.api.url,
        token=read_service_token(settings.data_dir),
    )


def _older_than_this_start(updated: float | None, started: float | None) -> bool:
    return started is not None and (updated is None or updated < started)


def answering(
    sighting: Sighting, data_dir: Path, *, timeout_s: float = HEALTH_TIMEOUT_S
) -> RemotePipeline | None:
    """A client of the service when it is ready and its health URL answers now."""
    if not sighting.ready or not sighting.token:
        return None
    remote = RemotePipeline(sighting.url, sighting.token, data_dir=data_dir)
    if remote.answers(timeout_s=timeout_s):
        return remote  # the probe's connection is kept alive for the command's requests
    remote.close()
    logger.debug("service.not_answering", url=sighting.url)
    return None


def running_service(settings: Any, *, timeout_s: float = HEALTH_TIMEOUT_S) -> RemotePipeline | None:
    """The service on ``settings.data_dir`` if it answers now; else None (no waiting)."""
    return answering(look(settings), settings.data_dir, timeout_s=timeout_s)


def connect(
    settings: Any,
    *,
    wait_s: float = STARTUP_WAIT_S,
    say: Callable[[str], None] = lambda _msg: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RemotePipeline | None:
    """The client of the service on ``settings.data_dir``; None only when no supervisor
    holds that data dir (the caller may then open the stores itself).

    While a supervisor runs and its service does not answer yet (opening the library,
    restarting), wait up to ``wait_s`` (``say`` tells the user once) rather than open the
    stores a second time; then raise ServiceStarting.
    """
    data_dir = settings.data_dir
    sighting = look(settings)
    remote = _usable(sighting, data_dir)
    if remote is not None or not sighting.supervised:
        return remote
    if wait_s <= 0:
        raise _not_ready(data_dir, sighting, wait_s)
    say(
        f"Olympus is starting on {data_dir} (its service owns the library); waiting up to "
        f"{wait_s:.0f} s for it..."
    )
    logger.debug("service.waiting", state=sighting.state or "not started", wait_s=wait_s)
    deadline = clock() + wait_s
    while clock() < deadline:
        sleep(POLL_S)
        sighting = look(settings)
        remote = _usable(sighting, data_dir)
        if remote is not None:
            return remote
        if not sighting.supervised:  # it stopped or failed: the stores are free again
            say("startup.py stopped before its service was ready; opening the library here.")
            return None
    raise _not_ready(data_dir, sighting, wait_s)


def _usable(sighting: Sighting, data_dir: Path) -> RemotePipeline | None:
    if sighting.supervised and sighting.ready and not sighting.token:
        raise _unreadable_token(data_dir)
    return answering(sighting, data_dir)


def _not_ready(data_dir: Path, sighting: Sighting, wait_s: float) -> ServiceStarting:
    waited = f"after {wait_s:.0f} s" if wait_s > 0 else "yet"
    return ServiceStarting(
        f"The Olympus service on {data_dir} is not ready {waited} (its state: "
        f"{sighting.state or 'not started'}); startup.py holds the library, so this command "
        "cannot open it itself."
    )


def _unreadable_token(data_dir: Path) -> ServiceStarting:
    return ServiceStarting(
        f"The Olympus service runs on {data_dir}, but its token {DataDir(data_dir).service_token} "
        "cannot be read.",
        hint="Run the command as the user that runs startup.py (the token is readable by "
        "that user only).",
    )
