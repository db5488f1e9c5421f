"""The common start of a child process the supervisor runs (the service API, the front).

Settings read and validated once (a bad value: the message and its fix on stderr, exit 2),
files private to this user (umask 077), logging configured with every secret redacted.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from src.settings import Settings


def start_child() -> Settings | None:
    """The settings of this child, ready to use; None after printing why they are invalid."""
    from shared_utils.errors import OlympusError
    from shared_utils.logging_setup import configure_logging
    from src.settings import load_settings, private_files

    try:
        settings = load_settings()
    except OlympusError as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
        return None
    private_files()
    configure_logging(
        settings.log_format_resolved, settings.log_level, secrets=settings.secret_values()
    )
    return settings
