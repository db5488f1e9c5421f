"""Which library a command works on: the running service's, or one opened in this process.

When ``startup.py`` runs, its API process owns the stores (Milvus Lite allows one process
per data dir) and answers in milliseconds with everything loaded; a command then goes
through it (URL from status.json, token from the data dir). When none answers, the command
opens the stores itself, as before (a cold start of several seconds).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import structlog

from src.settings import Settings

logger = structlog.get_logger(__name__)


@contextlib.contextmanager
def using(settings: Settings, open_local: Callable[[], Any]) -> Iterator[Any]:
    """The running service's ``RemotePipeline``, else ``open_local()``; closed after use."""
    from src.service_client import running_service

    target = running_service(settings)
    if target is not None:
        logger.debug("cli.via_service", url=target.url)
    else:
        target = open_local()
    try:
        yield target
    finally:
        target.close()


def library(settings: Settings) -> contextlib.AbstractContextManager[Any]:
    """Documents and search: the service, else ``Library.open`` (no answer backends)."""
    from src.library import Library

    return using(settings, lambda: Library.open(settings))


def pipeline(settings: Settings, profile: Callable[[], Any]) -> contextlib.AbstractContextManager[Any]:
    """Everything, answers included: the service, else ``RAGPipeline.from_settings``."""
    from src.pipeline import RAGPipeline

    return using(settings, lambda: RAGPipeline.from_settings(settings, profile=profile()))
