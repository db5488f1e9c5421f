"""The status file: how the supervisor tells the UI and ``doctor`` what is going on.

A JSON object in ``<data_dir>/status.json``, written atomically (temp file + rename), with
sections such as ``"provisioning"`` (phase, bytes, percent, eta_s, error), ``"engine"``
(state, url, restarts), ``"api"`` and ``"streamlit"``: their fields and types are
``src/schema/status.py``, which every write goes through. Readers tolerate a missing file;
``typed()`` gives the whole status as the schema's ``Status``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from shared_utils.atomic import atomic_write_text
from src.schema.status import Status, checked, read_status

logger = structlog.get_logger(__name__)

_lock = threading.Lock()


class StatusFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any]:
        """The whole status, or {} when there is none yet (or it is unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def section(self, name: str) -> dict[str, Any]:
        value = self.read().get(name)
        return value if isinstance(value, dict) else {}

    def typed(self) -> Status:
        """The whole status as the schema's models; a section a writer got wrong (or an
        older Olympus wrote differently) reads as its defaults, logged, not as an error."""
        status, unreadable = read_status(self.read())
        for name, why in unreadable:
            logger.warning("status.section_unreadable", section=name, error=why)
        return status

    def update(self, section: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into ``section`` (stamping ``updated_at``) and write atomically."""
        with _lock, self._exclusive():
            data = self.read()
            existing = data.get(section)
            current: dict[str, Any] = existing if isinstance(existing, dict) else {}
            try:
                current = checked(section, {**current, **fields, "updated_at": time.time()})
            except ValidationError:  # what was there is wrong (an older writer): start over
                logger.warning("status.section_replaced", section=section)
                current = checked(section, {**fields, "updated_at": time.time()})
            data[section] = current
            self._write(data)
            return current

    def replace(self, section: str, **fields: Any) -> None:
        """Set ``section`` to exactly ``fields`` (plus ``updated_at``)."""
        with _lock, self._exclusive():
            data = self.read()
            data[section] = checked(section, {**fields, "updated_at": time.time()})
            self._write(data)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise read-modify-write across processes (supervisor and UI both write), so
        one writer cannot put back a section another has just changed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True), prefix=".status.")
