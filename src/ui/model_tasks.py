"""Model management for the Models page: list, use, delete, and pulls in the background.

- A pull runs in a daemon thread of the Streamlit process (one at a time) through
  ``src.provisioning`` (resolve, resumable download, Ollama import) and reports through the
  supervisor's status file, section ``provisioning``, with the supervisor's own progress
  writer. So the page shows it after a refresh and while the user is elsewhere, and a pull
  is refused while the supervisor (or another session) is downloading.
- ``use`` and ``rm`` call ``src/model_ops.py``, as the CLI's ``models use|rm`` do; their typed
  errors reach the page as they are. A new active model answers the next question (a
  llama.cpp engine reloads it).
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import structlog

from shared_utils.errors import OlympusError, RepoNotFound
from src.access import Access
from src.settings import Settings
from src.status import StatusFile

if TYPE_CHECKING:
    from src.model_ops import Removed
    from src.profile import Profile

logger = structlog.get_logger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None
TERMINAL_PHASES = ("", "pending", "ready", "failed", "skipped")


class PullInProgress(OlympusError):
    hint = "Wait for the current download to finish; its progress is shown on this page."


def answering_model(settings: Settings, profile: Profile) -> str:
    """The model the engine serves, as it reports it (``src/answering.py``; "" when no
    language model is in the chain). Whether it writes or the extracts answer: ``.name``."""
    from src.answering import answering_now

    return answering_now(settings, profile).model


def installed_models(settings: Settings, profile: Profile) -> list[dict[str, Any]]:
    """Rows: GGUF files on disk, the bundled offline model, and Ollama's models; "active" is
    ticked for the model that answers (as named on Chat, System and by doctor)."""
    from src.backends import model_label
    from src.provisioning import bundled_gguf, local_ggufs, read_active

    answering = answering_model(settings, profile)
    # no engine in the chain (extractive only): the model `models use` chose
    active_names = {answering} if answering else {
        str(v) for v in read_active(settings).values() if isinstance(v, str)}
    rows = []
    for path in local_ggufs(settings.models_dir):
        label = model_label(path, settings)
        rows.append({"name": label, "where": f"models/{path.parent.name}/{path.name}",
                     "size GB": round(path.stat().st_size / 1024**3, 2),
                     "active": label in active_names or path.name in active_names})
    try:
        bundled = bundled_gguf()
    except OlympusError:
        bundled = None
    if bundled is not None and bundled.exists():
        from src.catalog import load_catalog

        entry_id = load_catalog(settings.catalog_path).offline_entry.id
        rows.append({"name": entry_id, "where": f"bundled (offline): {bundled.name}",
                     "size GB": round(bundled.stat().st_size / 1024**3, 2),
                     "active": entry_id in active_names})
    if profile.engine == "ollama":
        from shared_utils.ollama_models import OllamaModels

        models = OllamaModels(settings.ollama_host, timeout_s=10.0)
        try:
            for m in models.list():
                info = asdict(m)
                rows.append({"name": info["name"], "where": "Ollama",
                             "size GB": round(info["size_bytes"] / 1024**3, 2),
                             "active": info["name"] in active_names})
        finally:
            models.close()
    return rows


def use_model(settings: Settings, profile: Profile, name: str, access: Access) -> str:
    """Make ``name`` the active model (it answers the next question). Admin only."""
    from src.model_ops import use_model as use

    access.require_admin("switch the model")
    return use(settings, profile, name)


def delete_model(settings: Settings, profile: Profile, name: str, access: Access) -> Removed:
    """Delete an installed model (its files and its Ollama copy). Admin only."""
    from src.model_ops import remove_model

    access.require_admin("delete models")
    return remove_model(settings, profile, name)


def pull_running(status: StatusFile) -> bool:
    phase = str(status.section("provisioning").get("phase") or "")
    with _lock:
        alive = _thread is not None and _thread.is_alive()
    return alive or phase not in TERMINAL_PHASES


def start_pull(settings: Settings, profile: Profile, repo: str, quant: str, access: Access) -> None:
    """Start pulling ``repo`` with quantization ``quant`` (e.g. Q4_K_M) in the background.
    Admin only, and only where pulls from the UI are allowed (off on a Space by default)."""
    global _thread
    access.require_model_pulls()
    repo, quant = repo.strip(), quant.strip()
    if not repo or "/" not in repo:
        raise RepoNotFound(f"{repo or '(empty)'!r} is not a Hub repository name",
                           hint="Write it as owner/name, e.g. Qwen/Qwen2.5-1.5B-Instruct-GGUF.")
    spec = f"{repo}:{quant}" if quant else repo
    status = StatusFile(settings.status_path)
    with _lock:
        if pull_running_unlocked(status):
            raise PullInProgress("A model download is already running.")
        status.replace("provisioning", phase="starting", model=spec, error="", bytes=0,
                       total=0, requested_by="ui")
        _thread = threading.Thread(target=_pull_worker, args=(settings, profile, spec, status),
                                   name="olympus-model-pull", daemon=True)
        _thread.start()
    logger.info("ui.model.pull.started", spec=spec)


def pull_running_unlocked(status: StatusFile) -> bool:
    alive = _thread is not None and _thread.is_alive()
    return alive or str(status.section("provisioning").get("phase") or "") not in TERMINAL_PHASES


def _pull(settings: Settings, profile: Profile, spec: str, status: StatusFile, progress: Any) -> str:
    from src.provisioning import pull_model, resolve_pull

    pull = resolve_pull(settings, spec)
    if pull.entry is not None and pull.entry.bundled:
        return f"{pull.entry.id} is bundled with Olympus; nothing to download."
    result, name = pull_model(
        settings, profile, pull, progress=progress,
        on_status=lambda text: status.update("provisioning", phase="create", message=text),
    )
    return f"Imported into Ollama as {name}" if name else f"Downloaded to {result.path}"


def _pull_worker(settings: Settings, profile: Profile, spec: str, status: StatusFile) -> None:
    from src.supervisor.publisher import StatusPublisher

    try:
        message = _pull(settings, profile, spec, status, StatusPublisher(status).progress(spec))
    except OlympusError as exc:
        logger.warning("ui.model.pull.failed", spec=spec, error=exc.message)
        status.update("provisioning", phase="failed", error=str(exc), model=spec)
    except Exception as exc:
        logger.exception("ui.model.pull.crashed", spec=spec)
        status.update("provisioning", phase="failed", error=f"{type(exc).__name__}: {exc}",
                      model=spec)
    else:
        status.update("provisioning", phase="ready", error="", model=spec, message=message)
        logger.info("ui.model.pull.done", spec=spec)
