"""Operations on installed models, shared by the CLI (``models use|rm``) and the Models page.

- :func:`use_model` records the active model (a catalog id, a GGUF in the models folder, a
  .gguf file anywhere - linked or copied into ``<models dir>/local/`` - or an Ollama model);
  the supervisor and the answer chain read the record (``src/models/active.py``).
- :func:`remove_model` deletes a model's files (every part of a split GGUF, with partial
  downloads and locks) and its Ollama copy, and forgets it as the active model.

Both raise typed errors (``ModelNotFound``, ``OllamaNotRunning``, ...) whose hint says what to
do; the entry points render them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from shared_utils.errors import ModelNotFound, NotAGguf
from shared_utils.types import Progress, ProgressCallback, no_progress
from src.models.active import clear_active, read_active, write_active
from src.models.backends import model_label
from src.models.model_files import SPLIT_GGUF, local_ggufs
from src.models.profile import Profile
from src.settings import Settings

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Removed:
    """What :func:`remove_model` deleted (paths and ``ollama:NAME``) and whether it was active."""

    items: tuple[str, ...]
    was_active: bool


def use_model(
    settings: Settings, profile: Profile, name: str, *, progress: ProgressCallback = no_progress
) -> str:
    """Make ``name`` the active model; returns a line saying which one (and where it is).
    ``name`` may be a .gguf file anywhere: it is linked (or copied, with ``progress``) into
    the models folder first (:func:`bring_in`)."""
    from src.models.catalog import load_catalog

    if _is_file_path(name):
        path = bring_in(settings, Path(name), progress=progress)
        label = model_label(path, settings)
        if profile.engine == "ollama":  # Ollama answers from its own copy: import it
            tag = _import_into_ollama(settings, path, progress)
            write_active(settings, name=tag, path=path, ollama_model=tag)
            return _used(f"Active model: {tag} (Ollama, imported from {path})", settings, profile)
        write_active(settings, name=label, path=path)
        return _used(f"Active model: {label} -> {path}", settings, profile)
    catalog = load_catalog(settings.catalog_path)
    entry = next((e for e in catalog.entries if e.id == name), None)
    if entry is not None:
        write_active(settings, name=entry.id, model=entry.id)
        return _used(
            f"Active model: {entry.id} (pulled on next start if missing)", settings, profile
        )
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
    if os.sep in name or name.endswith(".gguf"):
        raise ModelNotFound(
            f"No file {name} (and no model of that name in the models folder).",
            hint="Check the path of the .gguf file.",
        )
    raise ModelNotFound(
        f"No model {name!r} in the catalog, on disk or in Ollama",
        hint="Pull it first: python -m src models pull REPO[:QUANT]",
    )


def overriding_setting(settings: Settings, profile: Profile | None) -> tuple[str, str, str]:
    """(setting, backend, model) when an explicit setting chooses the engine's model over the
    ``models use`` choice (``src/models/backends.py`` puts settings first); ("", "", "") otherwise."""
    from src.models.backends import plan_backends

    plan = plan_backends(settings, profile)
    return next(
        ((plan.set_by_setting(n), n, plan.model(n)) for n in plan.names if plan.set_by_setting(n)),
        ("", "", ""),
    )


def _used(message: str, settings: Settings | None = None, profile: Profile | None = None) -> str:
    """The line that says which model is active, and - when an explicit setting still chooses
    the engine's model - which one, and what to do."""
    if settings is not None:
        setting, name, model = overriding_setting(settings, profile)
        if setting:
            message += (
                f"\nNote: {setting} sets the {name} model ({model}) and takes "
                "precedence over this choice. Unset it (and restart) for the choice "
                "to take effect."
            )
    logger.info("model.use", message=message)
    return message


# --- a .gguf file from anywhere ----------------------------------------------------------------
GGUF_MAGIC = b"GGUF"
LOCAL_FOLDER = "local"  # models_dir/local/: files brought in by `models use PATH`
_COPY_BLOCK = 8 << 20


def _is_file_path(name: str) -> bool:
    """A path to a file (not a catalog id, repo or Ollama name)."""
    looks = os.sep in name or name.startswith(("~", ".")) or name.endswith(".gguf")
    return looks and Path(name).expanduser().is_file()


def _import_into_ollama(settings: Settings, path: Path, progress: ProgressCallback) -> str:
    import re

    from shared_utils.ollama_models import OllamaModels

    tag = (
        re.sub(
            r"[^a-z0-9._-]+", "-", SPLIT_GGUF.sub("", path.name).removesuffix(".gguf").lower()
        ).strip("-.")
        or "local-model"
    )
    parts = _gguf_parts(path)
    models = OllamaModels(settings.ollama_host)
    try:
        return models.import_gguf(tag, parts, progress=progress)
    finally:
        models.close()


def bring_in(settings: Settings, source: Path, *, progress: ProgressCallback = no_progress) -> Path:
    """``source`` (a GGUF anywhere) under ``<models dir>/local/``: hard-linked when it is on
    the same file system, else copied (with ``progress``; a partial copy is removed). A file
    already in the models folder is used where it is. Raises NotAGguf for any other file."""
    source = source.expanduser().resolve()
    if not source.is_file():
        raise NotAGguf(f"{source} is not a file.")
    with open(source, "rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise NotAGguf(
            f"{source.name} is not a GGUF model file (it does not start with "
            f"'GGUF' but with {magic!r})."
        )
    models = settings.models_dir.resolve()
    if source.is_relative_to(models) and source.parent != models:
        return source
    parts = _gguf_parts(source)
    folder = models / LOCAL_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for part in parts:
        _link_or_copy(part, folder / part.name, progress)
    return folder / source.name


def _gguf_parts(path: Path) -> list[Path]:
    """Every part of a split GGUF (``-00001-of-00003.gguf``), else the file itself."""
    if not SPLIT_GGUF.search(path.name):
        return [path]
    return [p for p in _parts_of(path) if p.name.endswith(".gguf")]


def _link_or_copy(source: Path, target: Path, progress: ProgressCallback) -> None:
    if target.exists():
        if os.path.samefile(source, target) or target.stat().st_size == source.stat().st_size:
            return
        raise NotAGguf(
            f"Another file named {target.name} is already in {target.parent}.",
            hint="Rename your file, or remove the other one with "
            f"`python -m src models rm {target.name}`.",
        )
    try:
        os.link(source, target)
        logger.info("model.linked", source=str(source), target=str(target))
        return
    except OSError:  # another file system, or links not allowed: copy
        pass
    partial = target.with_name(target.name + ".incomplete")
    total, done = source.stat().st_size, 0
    try:
        with open(source, "rb") as src, open(partial, "wb") as dst:
            while block := src.read(_COPY_BLOCK):
                dst.write(block)
                done += len(block)
                progress(Progress("copy", done, total, f"copying {source.name}"))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("model.copied", source=str(source), target=str(target), bytes=total)


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
        raise ModelNotFound(
            f"No model {name!r} on disk or in Ollama",
            hint="See what is installed: python -m src models list",
        )
    active = read_active(settings)
    was_active = name in (active.get("name"), active.get("model"), active.get("ollama_model")) or (
        active.get("path") in removed
    )
    if was_active:
        clear_active(settings)
    logger.info("model.removed", name=name, items=removed, was_active=was_active)
    return Removed(tuple(removed), was_active)


def local_matches(settings: Settings, name: str) -> list[Path]:
    """Files of ``name`` (catalog id, owner/repo[:QUANT], file name or path) under the models dir."""
    from src.models.catalog import load_catalog

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
    from src.models.catalog import load_catalog

    catalog = load_catalog(settings.catalog_path)
    return {e.ollama_name for e in catalog.entries if e.id == name}
