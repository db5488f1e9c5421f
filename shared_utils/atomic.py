"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never a part.

The data goes to a temporary file in the same folder (``mkstemp``: created 0600, or ``mode``
when given), optionally fsync'ed, then ``os.replace`` puts it in place; on any failure the
temporary file is removed and the old file is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(
    path: Path,
    data: bytes,
    *,
    mode: int | None = None,
    fsync: bool = False,
    prefix: str | None = None,
) -> None:
    """Replace ``path`` with ``data`` atomically.

    ``mode``: permissions set on the file before anything is written (0o600 for secrets; the
    default is mkstemp's 0600 too). ``fsync``: flush to the disk before the replace (for files
    that must survive a power cut, not just a crash). ``prefix``: of the temporary file's name
    (default ``.NAME.``), for folders whose sweeps recognise their own leftovers.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix or f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(
    path: Path,
    text: str,
    *,
    mode: int | None = None,
    fsync: bool = False,
    prefix: str | None = None,
) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, fsync=fsync, prefix=prefix)
