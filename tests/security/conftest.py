"""These tests configure logging as entry points do; every test gets the old setup back, so
later tests do not log into a captured stream that pytest has closed."""

from __future__ import annotations

import logging
import os

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_logging_and_umask():
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    filters = {h: list(h.filters) for h in handlers}
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    structlog.configure(**config)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        handler.filters = filters[handler]
    root.setLevel(level)
    os.umask(umask)
