"""The status file: how the supervisor tells the UI and ``doctor`` what is going on.

A JSON object in ``<data_dir>/status.json``, written atomically (temp file + rename), with
sections such as ``"provisioning"`` (phase, bytes, percent, eta_s, error), ``"engine"``
(state, url, restarts), ``"streamlit"`` and ``"backends"``. Readers tolerate a missing file.
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

from shared_utils.atomic import atomic_write_text

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

    def update(self, section: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into ``section`` (stamping ``updated_at``) and write atomically."""
        with _lock, self._exclusive():
            data = self.read()
            stored = data.get(section)
            current = {**(stored if isinstance(stored, dict) else {}), **fields,
                       "updated_at": time.time()}
            data[section] = current
            self._write(data)
            return current

    def replace(self, section: str, **fields: Any) -> None:
        """Set ``section`` to exactly ``fields`` (plus ``updated_at``)."""
        with _lock, self._exclusive():
            data = self.read()
            data[section] = {**fields, "updated_at": time.time()}
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
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True),
                          prefix=".status.")
