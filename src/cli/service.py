"""Which library a command works on: the running service's, or one opened in this process.

When ``startup.py`` runs, its API process owns the stores (Milvus Lite allows one process
per data dir) and answers in milliseconds with everything loaded; a command then goes
through it (``src/service/discovery.py``: URL from status.json, token from the data dir),
importing no store or model module, so the whole command takes a fraction of a second.
While ``startup.py`` is still starting its service, the command waits for it (one line on
stderr says so) instead of opening the stores beside it. Only when no ``startup.py`` runs on
the data dir does the command open the stores itself (a cold start of several seconds).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import structlog

from src.settings import Settings

logger = structlog.get_logger(__name__)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def using(
    settings: Settings, open_local: Callable[[], Any], *, wait_s: float | None = None
) -> Iterator[Any]:
    """The running service's ``RemotePipeline``, else ``open_local()``; closed after use.

    ``wait_s``: how long to wait for a service that is starting (None: the default
    ``STARTUP_WAIT_S``; 0: fail at once with ServiceStarting)."""
    from src.service.discovery import connect

    target = (
        connect(settings, say=_say)
        if wait_s is None
        else connect(settings, say=_say, wait_s=wait_s)
    )
    if target is not None:
        logger.debug("cli.via_service", url=target.url)
    else:
        target = open_local()
    try:
        yield target
    finally:
        target.close()


def _open_library(settings: Settings) -> Any:
    from src.library.library import Library

    return Library.open(settings)


def _open_pipeline(settings: Settings, profile: Callable[[], Any]) -> Any:
    from src.pipeline import RAGPipeline

    return RAGPipeline.from_settings(settings, profile=profile())


def library(settings: Settings) -> contextlib.AbstractContextManager[Any]:
    """Documents and search: the service, else ``Library.open`` (no answer backends)."""
    return using(settings, lambda: _open_library(settings))


def pipeline(
    settings: Settings, profile: Callable[[], Any], *, wait_s: float | None = None
) -> contextlib.AbstractContextManager[Any]:
    """Everything, answers included: the service, else ``RAGPipeline.from_settings``."""
    return using(settings, lambda: _open_pipeline(settings, profile), wait_s=wait_s)
