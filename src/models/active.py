"""The active-model record: what ``python -m src models use NAME`` chose.

One small JSON file in the data dir (``DataDir.active_model``), written atomically; the
supervisor, provisioning and the backend plan read it again whenever they decide which model
answers (``src/models/backends.py`` has the precedence).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import structlog

from shared_utils.atomic import atomic_write_text
from src.settings import Settings

logger = structlog.get_logger(__name__)


def active_path(settings: Settings) -> Path:
    return settings.data.active_model


def read_active(settings: Settings) -> dict[str, Any]:
    try:
        data = json.loads(active_path(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        logger.warning(
            "active model record unreadable; ignoring it", path=str(active_path(settings))
        )
        return {}
    return data if isinstance(data, dict) else {}


def write_active(settings: Settings, **record: Any) -> dict[str, Any]:
    """Atomically record the model to use (keys: name, model, path, ollama_model)."""
    path = active_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in record.items() if v}
    record["set_at"] = time.time()
    atomic_write_text(path, json.dumps(record, indent=1))
    return record


def clear_active(settings: Settings) -> None:
    active_path(settings).unlink(missing_ok=True)
