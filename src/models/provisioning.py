"""Provisioning: make sure the engine has a model to answer with.

``ensure_model(settings, profile, progress=..., status=...)`` decides which model (explicit
setting > ``models use`` record > the profile's catalog choice), uses it when it is already
there, downloads it from the Hub otherwise (llama.cpp uses the GGUF file directly; Ollama gets
it imported), and warms Ollama up. When the Hub is unreachable it says so once and keeps
working with what is on disk, or with the bundled SmolLM2 GGUF.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from shared_utils.errors import DownloadError, ModelNotFound, NetworkUnavailable
from shared_utils.types import ProgressCallback, no_progress
from src.models.active import read_active
from src.models.catalog import CatalogEntry, load_catalog
from src.models.model_files import entry_paths, local_ggufs
from src.models.pulls import PullSpec, download
from src.settings import Settings

if TYPE_CHECKING:
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)

Source = Literal["present", "downloaded", "offline-fallback"]
_offline_reported = False


@dataclass(frozen=True, slots=True)
class ModelReady:
    """What the engine should serve. ``path``: GGUF (first part) for llama.cpp."""

    engine: str
    model: str  # catalog id, repo, or Ollama name: what the user sees
    source: Source
    path: Path | None = None
    ollama_model: str = ""
    warm_up_s: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


HUB_UNREACHABLE = "the Hugging Face Hub cannot be reached from this server"


def _say_offline(exc: Exception, status: Any) -> None:
    global _offline_reported
    if not _offline_reported:
        logger.warning("Hugging Face Hub unreachable: using models on disk", error=str(exc))
        _offline_reported = True
    _note(status, f"Hub unreachable, using a model already on disk: {exc}")


def _note(status: Any, message: str) -> None:
    if status is not None and hasattr(status, "update"):
        status.update("provisioning", warning=message)


def ensure_model(
    settings: Settings,
    profile: Profile,
    *,
    progress: ProgressCallback = no_progress,
    status: Any = None,
) -> ModelReady:
    """Make the profile's engine ready to answer; see the module docstring for the order."""
    engine = profile.engine
    if engine == "none":
        return ModelReady(engine="none", model="", source="present")
    catalog = load_catalog(settings.catalog_path)
    active = read_active(settings)
    if engine == "llamacpp":
        return _ensure_llamacpp(settings, profile, catalog, active, progress, status)
    if engine == "ollama":
        return _ensure_ollama(settings, profile, catalog, active, progress, status)
    raise ValueError(f"unknown engine {engine!r}")


def _target_entry(settings: Settings, profile: Profile, catalog: Any, active: dict) -> CatalogEntry:
    model_id = settings.model or active.get("model") or profile.model
    return catalog.get(model_id)


def local_llamacpp_model(settings: Settings, profile: Profile) -> ModelReady | None:
    """The GGUF llama.cpp should serve when it is on disk already (explicit path > `models
    use` record > catalog choice), else None. Reads the record now: the supervisor calls this
    again when ``models use`` changes it."""
    return _local_llamacpp(
        settings, profile, load_catalog(settings.catalog_path), read_active(settings)
    )


def _local_llamacpp(settings, profile, catalog, active) -> ModelReady | None:
    if settings.llamacpp_model_path:
        path = Path(settings.llamacpp_model_path)
        if not path.is_file():
            raise ModelNotFound(f"OLYMPUS_LLAMACPP_MODEL_PATH={path} does not exist")
        return ModelReady("llamacpp", path.name, "present", path=path)
    if not settings.model and active.get("path"):
        path = Path(active["path"])
        if path.is_file():
            return ModelReady("llamacpp", active.get("name") or path.name, "present", path=path)
        logger.warning("active model file is gone; using the catalog choice", path=str(path))
    entry = _target_entry(settings, profile, catalog, active)
    paths = entry_paths(settings, entry)
    return ModelReady("llamacpp", entry.id, "present", path=paths[0]) if paths else None


def _ensure_llamacpp(settings, profile, catalog, active, progress, status) -> ModelReady:
    local = _local_llamacpp(settings, profile, catalog, active)
    if local is not None:
        return local
    entry = _target_entry(settings, profile, catalog, active)
    try:
        result = download(
            settings, PullSpec(entry.repo, entry.files, entry.quant, entry), progress=progress
        )
        return ModelReady("llamacpp", entry.id, "downloaded", path=result.path)
    except NetworkUnavailable as exc:
        _say_offline(exc, status)
        reason = HUB_UNREACHABLE  # the error itself is in the log (_say_offline)
    except DownloadError as exc:  # gated, not found, disk full, checksum: keep working
        logger.error("model download failed; falling back", model=entry.id, error=str(exc))
        _note(status, f"{entry.id} could not be downloaded: {exc}")
        reason = str(exc)
    on_disk = local_ggufs(settings.models_dir)
    if on_disk:
        newest = max(on_disk, key=lambda p: p.stat().st_mtime)
        return ModelReady("llamacpp", newest.name, "offline-fallback", path=newest, notes=(reason,))
    path = catalog.offline_entry.packaged_file()
    return ModelReady(
        "llamacpp", catalog.offline_entry.id, "offline-fallback", path=path, notes=(reason,)
    )


def _ensure_ollama(settings, profile, catalog, active, progress, status) -> ModelReady:
    from shared_utils.ollama_models import OllamaModels

    models = OllamaModels(settings.ollama_host)
    try:
        named = _named_ollama_model(models, settings, active)
        if named is not None:
            return _warm(models, settings, named)
        entry = _target_entry(settings, profile, catalog, active)
        name = entry.ollama_name
        if models.has(name):
            return _warm(
                models, settings, ModelReady("ollama", entry.id, "present", ollama_model=name)
            )
        if entry.bundled:
            _import(models, settings, profile, name, [entry.packaged_file()], (), progress, status)
            return _warm(
                models, settings, ModelReady("ollama", entry.id, "present", ollama_model=name)
            )
        try:
            _check_room_for_import(settings, entry)
            result = download(
                settings, PullSpec(entry.repo, entry.files, entry.quant, entry), progress=progress
            )
        except NetworkUnavailable as exc:
            _say_offline(exc, status)
            return _ollama_fallback(models, settings, profile, catalog, str(exc), progress, status)
        except DownloadError as exc:
            logger.error("model download failed; falling back", model=entry.id, error=str(exc))
            _note(status, f"{entry.id} could not be downloaded: {exc}")
            return _ollama_fallback(models, settings, profile, catalog, str(exc), progress, status)
        _import(
            models, settings, profile, name, list(result.paths), result.sha256, progress, status
        )
        return _warm(
            models,
            settings,
            ModelReady("ollama", entry.id, "downloaded", path=result.path, ollama_model=name),
        )
    finally:
        models.close()


def _named_ollama_model(models: Any, settings: Settings, active: dict) -> ModelReady | None:
    """The Ollama model a setting (OLYMPUS_OLLAMA_MODEL: it must be there) or the ``models
    use`` record (while Ollama still has it) names, else None: the catalog's choice then."""
    if settings.ollama_model:
        if not models.has(settings.ollama_model):
            raise ModelNotFound(f"OLYMPUS_OLLAMA_MODEL={settings.ollama_model!r} is not in Ollama")
        name = settings.ollama_model
        return ModelReady("ollama", name, "present", ollama_model=name)
    chosen = None if settings.model else active.get("ollama_model")
    if chosen and models.has(chosen):
        return ModelReady("ollama", active.get("name") or chosen, "present", ollama_model=chosen)
    if chosen:
        logger.warning(
            "the active model is no longer in Ollama; using the catalog choice", model=chosen
        )
    return None


def _check_room_for_import(settings: Settings, entry: CatalogEntry) -> None:
    """The GGUF download plus Ollama's copy of it must fit, before the first byte."""
    import shutil

    from shared_utils.errors import DiskFull

    need = int(entry.size_gb * 1024**3 * 2.1)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(settings.data_dir).free
    if need > free:
        raise DiskFull(
            f"{entry.id} needs about {need / 1e9:.1f} GB (the download and Ollama's copy), "
            f"{free / 1e9:.1f} GB free in {settings.data_dir}"
        )


def _ollama_fallback(models, settings, profile, catalog, reason, progress, status) -> ModelReady:
    installed = models.list()
    if installed:
        name = installed[0].name
        return _warm(
            models,
            settings,
            ModelReady("ollama", name, "offline-fallback", ollama_model=name, notes=(reason,)),
        )
    entry = catalog.offline_entry
    _import(
        models, settings, profile, entry.ollama_name, [entry.packaged_file()], (), progress, status
    )
    return _warm(
        models,
        settings,
        ModelReady(
            "ollama", entry.id, "offline-fallback", ollama_model=entry.ollama_name, notes=(reason,)
        ),
    )


def _import(models, settings, profile, name, paths, digests, progress, status) -> None:
    def on_status(text: str) -> None:
        if status is not None and hasattr(status, "update"):
            status.update("provisioning", phase="create", message=text)

    models.import_gguf(
        name,
        paths,
        num_ctx=profile.context_tokens,
        digests=digests,
        progress=progress,
        status=on_status,
    )


def _warm(models, settings: Settings, ready: ModelReady) -> ModelReady:
    started = time.monotonic()
    models.warm_up(ready.ollama_model, keep_alive=settings.keep_alive)
    took = time.monotonic() - started
    logger.info("model warm", model=ready.ollama_model, seconds=round(took, 2))
    return ModelReady(
        ready.engine,
        ready.model,
        ready.source,
        path=ready.path,
        ollama_model=ready.ollama_model,
        warm_up_s=took,
        notes=ready.notes,
    )
