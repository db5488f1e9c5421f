"""The local ArangoDB child: started by the supervisor when ``arangod`` is installed in the image
and no ``OLYMPUS_ARANGO_URL`` is given. Bound to 127.0.0.1, data under the data dir, memory
capped for small hosts (a 2-core/16 GB Space shares its memory with the model)."""

from __future__ import annotations

import shutil
from collections.abc import Callable

from src.settings import Settings
from src.supervisor.process import ChildSpec


def arangod_spec(
    settings: Settings, *, which: Callable[[str], str | None] = shutil.which
) -> ChildSpec | None:
    """How to run arangod here, or None when it is not wanted or not installed."""
    if settings.arango_url or not settings.arango_start_local:
        return None
    binary = which("arangod")
    if not binary:
        return None
    root = settings.data.arangodb
    port = settings.arango_local_port
    mem = settings.arango_memory_mb
    argv = [
        binary,
        "--server.endpoint",
        f"tcp://127.0.0.1:{port}",
        "--database.directory",
        str(root / "db"),
        "--javascript.app-path",
        str(root / "apps"),
        "--log.output",
        "-",
        "--server.statistics",
        "false",
        "--foxx.queues",
        "false",
        # memory: RocksDB block cache and write buffers well inside the cap
        "--rocksdb.block-cache-size",
        str(mem * 1024 * 1024 // 4),
        "--rocksdb.total-write-buffer-size",
        str(mem * 1024 * 1024 // 8),
        "--query.global-memory-limit",
        str(mem * 1024 * 1024 // 4),
    ]
    env = {
        "ARANGODB_OVERRIDE_DETECTED_TOTAL_MEMORY": str(mem * 1024 * 1024),
        # Used only when the database directory is initialised (first start).
        "ARANGODB_DEFAULT_ROOT_PASSWORD": settings.arango_password,
    }
    url = f"http://127.0.0.1:{port}"
    return ChildSpec(
        name="arangod",
        argv=argv,
        env=env,
        ready_url=f"{url}/_admin/server/availability",
        url=url,
        info={"data_dir": str(root)},
    )
