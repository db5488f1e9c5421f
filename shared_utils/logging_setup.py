"""structlog configuration. Called only by entry points (CLI, Streamlit app, supervisor).

Library modules just do ``logger = structlog.get_logger(__name__)``.

Every format renders exceptions as plain tracebacks (no local variables: rich's traceback
printed ``token = 'hf_...'`` from a failing pull) and passes each event through
:class:`Redactor`, which masks token-shaped values, URL credentials, secret-named keys and
the values of settings marked secret (see ``shared_utils/redact.py``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import structlog

from shared_utils.redact import redact, scrub

LogFormat = Literal["json", "console"]


class Redactor:
    """structlog processor: every string in the event (message, fields, formatted exception)
    redacted; ``secrets`` are exact values to mask (settings marked secret)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = tuple(s for s in secrets if s)

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> Mapping[str, Any]:
        return scrub(event, self.secrets)


# A child's output line that starts with this goes to the supervisor's console as it is, not
# into the structured log (which masks tokens): only the front's one-time sign-in link uses it.
CONSOLE_TAG = "olympus-console| "
_format: LogFormat = "console"  # what configure_logging chose, for console_notice


def console_notice(text: str, *, out: TextIO | None = None) -> None:
    """``text`` for the person at the console, unmasked (only the one-time sign-in link): a JSON
    record under JSON logs, so the log stays JSON lines; the plain line otherwise."""
    line = text
    if _format == "json":
        line = json.dumps(
            {
                "event": "console.notice",
                "level": "warning",
                "message": text,
                "timestamp": datetime.now(UTC).isoformat(),
            }
        )
    print(line, file=out or sys.stderr, flush=True)


def configure_logging(
    fmt: LogFormat = "console", level: str = "INFO", *, secrets: Iterable[str] = ()
) -> None:
    """JSON lines (containers, OLYMPUS_LOG_FORMAT=json) or a readable console, on stderr."""
    global _format
    _format = fmt
    lvl = logging.getLevelName(level.upper())
    if not isinstance(lvl, int):
        lvl = logging.INFO
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # exceptions become plain text here (no locals), so the redactor sees them too
        structlog.processors.format_exc_info,
        Redactor(secrets),
    ]
    if fmt == "json":
        renderer: structlog.typing.Processor = structlog.processors.JSONRenderer()
        _no_library_progress_bars()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries use stdlib logging: keep them quiet unless debugging.
    logging.basicConfig(level=max(lvl, logging.WARNING), stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, _RedactFilter)]
        handler.addFilter(_RedactFilter(secrets))


def _no_library_progress_bars() -> None:
    """Under JSON logs, libraries draw no progress bars on stderr ("Loading weights: 100%|..."
    from transformers, downloads from huggingface_hub): a bar would be glued into a record."""
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # transformers takes this state when it is imported later
    transformers = sys.modules.get("transformers")
    if transformers is not None:
        transformers.utils.logging.disable_progress_bar()


class _RedactFilter(logging.Filter):
    """The same redaction for stdlib log records (httpx, huggingface_hub, streamlit)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info), self.secrets
            )
            record.exc_info = None
        return True
