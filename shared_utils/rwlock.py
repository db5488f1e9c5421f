"""A readers-writer lock: searches share the index, writes (add, delete, close) have it alone.

Writers go first once they wait (a steady stream of searches cannot starve an ingest). The
writer may take the lock again, or read, on its own thread; a reader must not read again
while holding it (a waiting writer would block the inner read: a deadlock).

>>> lock = ReadWriteLock()
>>> with lock.read(), lock.read_count() as n:
...     n
1
>>> with lock.write(), lock.write(), lock.read():
...     pass
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadWriteLock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None  # the writing thread's ident
        self._depth = 0  # the writer's re-entries
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:  # the writer reads its own state
                self._depth += 1
                shared = False
            else:
                while self._writer is not None or self._waiting_writers:
                    self._cond.wait()
                self._readers += 1
                shared = True
        try:
            yield
        finally:
            with self._cond:
                if shared:
                    self._readers -= 1
                else:
                    self._depth -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
            else:
                self._waiting_writers += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._waiting_writers -= 1
                self._writer, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._writer = None
                self._cond.notify_all()

    @contextmanager
    def read_count(self) -> Iterator[int]:
        """The number of readers now (for tests)."""
        with self._cond:
            yield self._readers
