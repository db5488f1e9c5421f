"""One Olympus per data dir: an exclusive ``flock`` on ``<data_dir>/.lock``.

Milvus Lite and the embedded stores allow one writer, so a second supervisor against the
same data dir must refuse to start. The kernel drops the lock when the holder dies, even by
SIGKILL, so a crash never leaves a stale lock behind. ``held()`` tells the CLI whether a
supervisor is alive on a data dir (its service may still be starting) without opening a store.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import structlog

from shared_utils.errors import AlreadyRunning, SettingsError
from src.data_dir import DataDir

logger = structlog.get_logger(__name__)

# held() takes a shared lock for a few microseconds; a supervisor starting in that instant
# retries rather than report a second Olympus that does not exist.
ACQUIRE_TRIES = 5
ACQUIRE_RETRY_S = 0.02


def held(data_dir: Path) -> bool:
    """True while a supervisor holds ``data_dir``'s lock (it runs, or is starting, there)."""
    try:
        fd = os.open(DataDir(data_dir).lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # never locked here (or not ours to read: nor are the stores)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock, if it was taken
    return False


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = DataDir(self.data_dir).lock
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
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
            _lock_exclusive(fd)
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

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_exclusive(fd: int) -> None:
    """``flock(LOCK_EX | LOCK_NB)``, retried briefly past a ``held()`` probe."""
    for attempt in range(ACQUIRE_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == ACQUIRE_TRIES - 1:
                raise
            time.sleep(ACQUIRE_RETRY_S)
