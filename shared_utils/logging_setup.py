"""structlog configuration. Called only by entry points (CLI, Streamlit app, supervisor).

Library modules just do ``logger = structlog.get_logger(__name__)``.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

LogFormat = Literal["json", "console"]


def configure_logging(fmt: LogFormat = "console", level: str = "INFO") -> None:
    """JSON lines (containers, OLYMPUS_LOG_FORMAT=json) or a readable console, on stderr."""
    lvl = logging.getLevelName(level.upper())
    if not isinstance(lvl, int):
        lvl = logging.INFO
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == "json":
        renderer: structlog.typing.Processor = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries use stdlib logging: keep them quiet unless debugging.
    logging.basicConfig(level=max(lvl, logging.WARNING), stream=sys.stderr)
