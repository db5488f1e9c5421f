"""One Olympus per data dir: an exclusive ``flock`` on ``<data_dir>/.lock``.

Milvus Lite and the embedded stores allow one writer, so a second supervisor against the
same data dir must refuse to start. The kernel drops the lock when the holder dies, even by
SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import structlog

from shared_utils.errors import AlreadyRunning, SettingsError

logger = structlog.get_logger(__name__)


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / ".lock"
        self._fd: int | None = None

    def acquire(self) -> "DataDirLock":
        """Take the lock or raise AlreadyRunning naming the holder's pid."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SettingsError(
                f"Data dir {self.data_dir} is not writable: {exc.strerror}",
                hint="Set OLYMPUS_DATA_DIR to a folder this user can write.",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"Olympus is already running with data dir {self.data_dir} (pid {holder})"
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "DataDirLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
