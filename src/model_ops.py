"""Operations on installed models, shared by the CLI (``models use|rm``) and the Models page.

- :func:`use_model` records the active model (a catalog id, a GGUF on disk or an Ollama
  model); the supervisor and the answer chain read the record (``src/provisioning.py``).
- :func:`remove_model` deletes a model's files (every part of a split GGUF, with partial
  downloads and locks) and its Ollama copy, and forgets it as the active model.

Both raise typed errors (``ModelNotFound``, ``OllamaNotRunning``, ...) whose hint says what to
do; the entry points render them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from shared_utils.errors import ModelNotFound
from src.profile import Profile
from src.provisioning import SPLIT_GGUF, clear_active, local_ggufs, read_active, write_active
from src.settings import Settings

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Removed:
    """What :func:`remove_model` deleted (paths and ``ollama:NAME``) and whether it was active."""

    items: tuple[str, ...]
    was_active: bool


def use_model(settings: Settings, profile: Profile, name: str) -> str:
    """Make ``name`` the active model; returns a line saying which one (and where it is)."""
    from src.catalog import load_catalog

    catalog = load_catalog(settings.catalog_path)
    entry = next((e for e in catalog.entries if e.id == name), None)
    if entry is not None:
        write_active(settings, name=entry.id, model=entry.id)
        return _used(f"Active model: {entry.id} (pulled on next start if missing)", settings,
                     profile)
    local = local_matches(settings, name)
    if local:
        write_active(settings, name=name, path=local[0])
        return _used(f"Active model: {name} -> {local[0]}", settings, profile)
    if profile.engine == "ollama":
        from shared_utils.ollama_models import OllamaModels

        models = OllamaModels(settings.ollama_host)
        try:
            if models.has(name):
                write_active(settings, name=name, ollama_model=name)
                return _used(f"Active model: {name} (Ollama)", settings, profile)
        finally:
            models.close()
    raise ModelNotFound(f"No model {name!r} in the catalog, on disk or in Ollama",
                        hint="Pull it first: python -m src models pull REPO[:QUANT]")


def _used(message: str, settings: Settings | None = None, profile: Profile | None = None) -> str:
    """The line that says which model is active, and - when an explicit setting still chooses
    the engine's model (``src/backends.py`` puts settings first) - which one, and what to do."""
    if settings is not None:
        from src.backends import plan_backends

        plan = plan_backends(settings, profile)
        pinned = next(((name, plan.set_by_setting(name)) for name in plan.names
                       if plan.set_by_setting(name)), None)
        if pinned:
            name, setting = pinned
            message += (f"\nNote: {setting} sets the {name} model ({plan.model(name)}) and takes "
                        "precedence over this choice. Unset it (and restart) for the choice "
                        "to take effect.")
    logger.info("model.use", message=message)
    return message


def remove_model(settings: Settings, profile: Profile, name: str) -> Removed:
    """Delete ``name`` from disk and from Ollama; the active record is cleared if it was it."""
    removed: list[str] = []
    for path in local_matches(settings, name):
        for part in _parts_of(path):
            if part.exists():
                part.unlink()
                removed.append(str(part))
    if profile.engine == "ollama":
        from shared_utils.ollama_models import OllamaModels

        models = OllamaModels(settings.ollama_host)
        try:
            for target in {name} | _ollama_names_for(settings, name):
                if models.has(target):
                    models.delete(target)
                    removed.append(f"ollama:{target}")
        finally:
            models.close()
    if not removed:
        raise ModelNotFound(f"No model {name!r} on disk or in Ollama",
                            hint="See what is installed: python -m src models list")
    active = read_active(settings)
    was_active = name in (active.get("name"), active.get("model"), active.get("ollama_model")) or (
        active.get("path") in removed)
    if was_active:
        clear_active(settings)
    logger.info("model.removed", name=name, items=removed, was_active=was_active)
    return Removed(tuple(removed), was_active)


def local_matches(settings: Settings, name: str) -> list[Path]:
    """Files of ``name`` (catalog id, owner/repo[:QUANT], file name or path) under the models dir."""
    from src.catalog import load_catalog

    catalog = load_catalog(settings.catalog_path)
    entry = next((e for e in catalog.entries if e.id == name and not e.bundled), None)
    repo = entry.repo if entry else name.partition(":")[0] if "/" in name else ""
    folder = settings.models_dir / repo.replace("/", "--") if repo else None
    out: list[Path] = []
    if entry and folder:
        out = [folder / f for f in entry.files if (folder / f).exists()]
    elif folder and folder.is_dir() and not name.endswith(".gguf"):
        quant = name.partition(":")[2].lower()
        out = [p for p in folder.iterdir() if not quant or quant in p.name.lower()]
    else:
        for first in local_ggufs(settings.models_dir):
            if name in (first.name, str(first)) or Path(name).resolve() == first.resolve():
                out = [first]
    return out


def gguf_size(path: Path) -> int:
    """Bytes of a GGUF model on disk (all parts of a split file)."""
    if not SPLIT_GGUF.search(path.name):
        return path.stat().st_size
    stem = SPLIT_GGUF.sub("", path.name)
    return sum(p.stat().st_size for p in path.parent.glob(f"{stem}-*-of-*.gguf"))


def _parts_of(path: Path) -> list[Path]:
    if not SPLIT_GGUF.search(path.name):
        return [path.with_name(path.name + suffix) for suffix in ("", ".incomplete", ".lock")]
    stem = SPLIT_GGUF.sub("", path.name)
    return sorted(path.parent.glob(f"{stem}-*-of-*.gguf*"))


def _ollama_names_for(settings: Settings, name: str) -> set[str]:
    from src.catalog import load_catalog

    catalog = load_catalog(settings.catalog_path)
    return {e.ollama_name for e in catalog.entries if e.id == name}
