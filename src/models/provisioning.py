"""Provisioning: make sure the engine has a model to answer with.

``ensure_model(settings, profile, progress=..., status=...)`` decides which model (explicit
setting > ``models use`` record > the profile's catalog choice), uses it when it is already
there, downloads it from the Hub otherwise (llama.cpp uses the GGUF file directly; Ollama gets
it imported), and warms Ollama up. When the Hub is unreachable it says so once and keeps
working with what is on disk, or with the bundled SmolLM2 GGUF.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from shared_utils.atomic import atomic_write_text
from shared_utils.errors import DownloadError, ModelNotFound, NetworkUnavailable, RepoNotFound
from shared_utils.types import ProgressCallback, no_progress
from src.models.catalog import CatalogEntry, load_catalog
from src.settings import Settings

if TYPE_CHECKING:
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)

Source = Literal["present", "downloaded", "offline-fallback"]
_offline_reported = False
SPLIT_GGUF = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")


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


@dataclass(frozen=True, slots=True)
class PullSpec:
    """A resolved ``models pull`` target: a repo and the GGUF file(s) of one quantization."""

    repo: str
    files: tuple[str, ...]
    quant: str
    entry: CatalogEntry | None = None


# --- the active-model record (``python -m src models use NAME``) -----------------------------
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


# --- local files ---------------------------------------------------------------------------
def bundled_gguf(settings: Settings | None = None) -> Path:
    """The bundled offline model's file: the catalog's entry with a ``package``."""
    path = settings.catalog_path if settings else Settings.model_fields["catalog_path"].default
    return load_catalog(path).offline_entry.packaged_file()


def local_ggufs(models_dir: Path) -> list[Path]:
    """Complete GGUF models under ``models_dir`` (first part only for split files)."""
    if not models_dir.is_dir():
        return []
    out = []
    for path in sorted(models_dir.glob("*/*.gguf")):
        m = SPLIT_GGUF.search(path.name)
        if m and m.group(1) != "00001":
            continue
        if m and not all(
            (path.parent / SPLIT_GGUF.sub(f"-{i:05d}-of-{m.group(2)}.gguf", path.name)).exists()
            for i in range(1, int(m.group(2)) + 1)
        ):
            continue
        out.append(path)
    return out


def entry_paths(settings: Settings, entry: CatalogEntry) -> list[Path] | None:
    """The entry's files on disk, or None when any part is missing."""
    if entry.bundled:
        return [entry.packaged_file()]
    from shared_utils.hub_download import local_path

    def find(filename: str) -> Path:
        # Read-only dirs first (a GGUF baked into the image), then the data dir's downloads.
        for directory in settings.model_search_dirs:
            if (directory / filename).is_file():
                return directory / filename
        return local_path(settings.models_dir, entry.repo, filename)

    paths = [find(f) for f in entry.files]
    return paths if all(p.is_file() for p in paths) else None


# --- resolving what to pull ----------------------------------------------------------------
def resolve_pull(settings: Settings, spec: str) -> PullSpec:
    """``catalog-id`` or ``owner/repo[:QUANT]`` -> repo and file names.

    Unknown repos are listed on the Hub (``list_repo_tree``) and the GGUF file(s) whose
    name contains the quantization are taken (all parts of a split GGUF).
    """
    catalog = load_catalog(settings.catalog_path)
    if "/" not in spec:
        entry = catalog.get(spec)
        return PullSpec(entry.repo or entry.package, entry.files, entry.quant, entry)
    repo, _, quant = spec.partition(":")
    found = catalog.find(repo)
    if found and (not quant or quant.lower() == found.quant.lower()):
        return PullSpec(found.repo, found.files, found.quant, found)
    files = _list_ggufs(settings, repo)
    quant = quant or "Q4_K_M"
    chosen = sorted(f for f in files if quant.lower() in f.rsplit("/", 1)[-1].lower())
    if not chosen:
        raise RepoNotFound(
            f"{repo} has no GGUF file for quantization {quant}; it has: "
            + (", ".join(sorted(files)[:12]) or "no .gguf files"),
            hint="Pick one of the listed quantizations: python -m src models pull REPO:QUANT",
        )
    split = [f for f in chosen if SPLIT_GGUF.search(f)]
    if split:  # one split set: all its parts
        stem = SPLIT_GGUF.sub("", split[0])
        chosen = [f for f in split if SPLIT_GGUF.sub("", f) == stem]
    else:
        chosen = chosen[:1]
    return PullSpec(repo, tuple(chosen), quant.upper(), None)


def _list_ggufs(settings: Settings, repo: str) -> list[str]:
    from huggingface_hub import HfApi

    from shared_utils.hub_errors import map_hub_error

    if settings.hf_hub_offline:
        raise NetworkUnavailable(f"Hub access is disabled (HF_HUB_OFFLINE); cannot list {repo}")
    api = HfApi(endpoint=settings.hf_endpoint or None, token=settings.hf_token or False)
    try:
        items = list(api.list_repo_tree(repo, recursive=True))
    except Exception as exc:  # mapped to typed errors in one place
        mapped = map_hub_error(exc, repo, "", settings.hf_token)
        if mapped is exc:
            raise
        raise mapped from exc
    return [i.path for i in items if getattr(i, "path", "").endswith(".gguf")]


def download(settings: Settings, pull: PullSpec, *, progress: ProgressCallback = no_progress):
    """Download a resolved pull into the models dir (resumable, verified)."""
    from shared_utils.hub_download import download_gguf

    return download_gguf(
        pull.repo,
        pull.files,
        settings.models_dir,
        endpoint=settings.hf_endpoint or None,
        token=settings.hf_token or None,
        offline=settings.hf_hub_offline,
        expected_sha256=pull.entry.sha256 if pull.entry else (),
        progress=progress,
    )


# --- ensure --------------------------------------------------------------------------------
def ollama_name_for(pull: PullSpec) -> str:
    """The name a pull is imported under in Ollama (the catalog's, else ``repo:quant``)."""
    if pull.entry is not None:
        return pull.entry.ollama_name
    return f"{pull.repo.rsplit('/', 1)[-1].lower().removesuffix('-gguf')}:{pull.quant.lower()}"


def pull_model(
    settings: Settings,
    profile: Profile,
    pull: PullSpec,
    *,
    progress: ProgressCallback = no_progress,
    on_status: Callable[[str], None] = lambda _text: None,
) -> tuple[Any, str]:
    """Download ``pull`` and, when the engine is Ollama, import it (reusing the digests the
    download computed). Returns the download result and the Ollama name ("" if not imported)."""
    result = download(settings, pull, progress=progress)
    if profile.engine != "ollama":
        return result, ""
    from shared_utils.ollama_models import OllamaModels

    name = ollama_name_for(pull)
    models = OllamaModels(settings.ollama_host)
    try:
        models.import_gguf(
            name,
            list(result.paths),
            num_ctx=profile.context_tokens,
            digests=result.sha256,
            progress=progress,
            status=on_status,
        )
    finally:
        models.close()
    return result, name


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
        if settings.ollama_model:
            if not models.has(settings.ollama_model):
                raise ModelNotFound(
                    f"OLYMPUS_OLLAMA_MODEL={settings.ollama_model!r} is not in Ollama"
                )
            return _warm(
                models,
                settings,
                ModelReady(
                    "ollama", settings.ollama_model, "present", ollama_model=settings.ollama_model
                ),
            )
        chosen = None if settings.model else active.get("ollama_model")
        if chosen and models.has(chosen):
            return _warm(
                models,
                settings,
                ModelReady("ollama", active.get("name") or chosen, "present", ollama_model=chosen),
            )
        if chosen:
            logger.warning(
                "the active model is no longer in Ollama; using the catalog choice", model=chosen
            )
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
