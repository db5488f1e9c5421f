"""Model management for the Models page: list, use, delete, and pulls in the background.

- A pull runs in a daemon thread of the Streamlit process (one at a time) through
  ``src.models.provisioning`` (resolve, resumable download, Ollama import) and reports through the
  supervisor's status file, section ``provisioning``, with the supervisor's own progress
  writer. So the page shows it after a refresh and while the user is elsewhere, and a pull
  is refused while the supervisor (or another session) is downloading.
- ``use`` and ``rm`` call ``src/models/operations.py``, as the CLI's ``models use|rm`` do; their typed
  errors reach the page as they are. A new active model answers the next question (a
  llama.cpp engine reloads it).
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import structlog

from shared_utils.errors import OlympusError, RepoNotFound
from src.access.roles import Access
from src.settings import Settings
from src.status import StatusFile

if TYPE_CHECKING:
    from src.models.operations import Removed
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None
TERMINAL_PHASES = ("", "pending", "ready", "failed", "skipped")
HUB = "https://huggingface.co"
PROBE_TIMEOUT_S = 2.0
PROBE_TTL_S = 30.0  # a page rerun within this reuses the last answer
_probes: dict[str, tuple[float, str]] = {}


class PullInProgress(OlympusError):
    hint = "Wait for the current download to finish; its progress is shown on this page."


def hub_unreachable(settings: Settings) -> str:
    """Why models cannot be downloaded from the Hub right now ("" when they can): offline
    mode, or no connection to the Hub's host (a TCP connect, at most every PROBE_TTL_S)."""
    import socket
    import time
    from urllib.parse import urlsplit

    if settings.hf_hub_offline:
        return "this server is set to work offline (HF_HUB_OFFLINE)"
    endpoint = settings.hf_endpoint or HUB
    now = time.monotonic()
    cached = _probes.get(endpoint)
    if cached and now - cached[0] < PROBE_TTL_S:
        return cached[1]
    url = urlsplit(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
        reason = ""
    except OSError as exc:
        reason = f"the Hugging Face Hub ({host}) cannot be reached from this server"
        logger.info("ui.model.hub_unreachable", host=host, error=str(exc))
    _probes[endpoint] = (now, reason)
    return reason


def answering_model(settings: Settings, profile: Profile) -> str:
    """The model the engine serves, as it reports it (``src/answer/answering.py``; "" when no
    language model is in the chain). Whether it writes or the extracts answer: ``.name``."""
    from src.answer.answering import answering_now

    return answering_now(settings, profile).model


def installed_models(settings: Settings, profile: Profile) -> list[dict[str, Any]]:
    """Rows: GGUF files on disk, the bundled offline model, and Ollama's models; "active" is
    ticked for the model that answers (as named on Chat, System and by doctor)."""
    from src.models.active import read_active
    from src.models.backends import model_label
    from src.models.model_files import bundled_gguf, local_ggufs

    answering = answering_model(settings, profile)
    # no engine in the chain (extractive only): the model `models use` chose
    active_names = (
        {answering}
        if answering
        else {str(v) for v in read_active(settings).values() if isinstance(v, str)}
    )
    rows = []
    for path in local_ggufs(settings.models_dir):
        label = model_label(path, settings)
        rows.append(
            {
                "name": label,
                "where": f"models/{path.parent.name}/{path.name}",
                "size GB": round(path.stat().st_size / 1024**3, 2),
                "active": label in active_names or path.name in active_names,
            }
        )
    try:
        bundled = bundled_gguf(settings)
    except OlympusError:
        bundled = None
    if bundled is not None and bundled.exists():
        from src.models.catalog import load_catalog

        entry_id = load_catalog(settings.catalog_path).offline_entry.id
        rows.append(
            {
                "name": entry_id,
                "where": f"bundled (offline): {bundled.name}",
                "size GB": round(bundled.stat().st_size / 1024**3, 2),
                "active": entry_id in active_names,
            }
        )
    if profile.engine == "ollama":
        rows += _ollama_rows(settings, active_names)
    if answering and not any(r["active"] for r in rows):
        rows.insert(0, _answering_row(settings, answering))
    return rows


def _answering_row(settings: Settings, answering: str) -> dict[str, Any]:
    """The model that answers though it is none of the rows above (a GGUF outside the models
    folder, e.g. OLYMPUS_LLAMACPP_MODEL_PATH): listed, so the active model is always there."""
    from pathlib import Path

    served = StatusFile(settings.status_path).typed().engine.model
    path = Path(served or settings.llamacpp_model_path or "")
    if str(path) not in ("", ".") and path.is_file():
        return {
            "name": answering,
            "where": str(path),
            "size GB": round(path.stat().st_size / 1024**3, 2),
            "active": True,
        }
    return {"name": answering, "where": "in use by the engine", "size GB": None, "active": True}


def _ollama_rows(settings: Settings, active_names: set[str]) -> list[dict[str, Any]]:
    from shared_utils.ollama_models import OllamaModels

    rows = []
    models = OllamaModels(settings.ollama_host, timeout_s=10.0)
    try:
        for m in models.list():
            info = asdict(m)
            rows.append(
                {
                    "name": info["name"],
                    "where": "Ollama",
                    "size GB": round(info["size_bytes"] / 1024**3, 2),
                    "active": info["name"] in active_names,
                }
            )
    finally:
        models.close()
    return rows


def use_model(settings: Settings, profile: Profile, name: str, access: Access) -> str:
    """Make ``name`` the active model (it answers the next question). Admin only."""
    from src.models.operations import use_model as use

    access.require_admin("switch the model")
    return use(settings, profile, name)


def delete_model(settings: Settings, profile: Profile, name: str, access: Access) -> Removed:
    """Delete an installed model (its files and its Ollama copy). Admin only."""
    from src.models.operations import remove_model

    access.require_admin("delete models")
    return remove_model(settings, profile, name)


def pull_running(status: StatusFile) -> bool:
    phase = status.typed().provisioning.phase
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
        raise RepoNotFound(
            f"{repo or '(empty)'!r} is not a Hub repository name",
            hint="Write it as owner/name, e.g. Qwen/Qwen2.5-1.5B-Instruct-GGUF.",
        )
    spec = f"{repo}:{quant}" if quant else repo
    status = StatusFile(settings.status_path)
    with _lock:
        if pull_running_unlocked(status):
            raise PullInProgress("A model download is already running.")
        status.replace(
            "provisioning",
            phase="starting",
            model=spec,
            error="",
            bytes=0,
            total=0,
            requested_by="ui",
        )
        _thread = threading.Thread(
            target=_pull_worker,
            args=(settings, profile, spec, status),
            name="olympus-model-pull",
            daemon=True,
        )
        _thread.start()
    logger.info("ui.model.pull.started", spec=spec)


def pull_running_unlocked(status: StatusFile) -> bool:
    alive = _thread is not None and _thread.is_alive()
    return alive or status.typed().provisioning.phase not in TERMINAL_PHASES


def _pull(
    settings: Settings, profile: Profile, spec: str, status: StatusFile, progress: Any
) -> str:
    from src.models.pulls import pull_model, resolve_pull

    pull = resolve_pull(settings, spec)
    if pull.entry is not None and pull.entry.bundled:
        return f"{pull.entry.id} is bundled with Olympus; nothing to download."

    def on_status(text: str) -> None:
        status.update("provisioning", phase="create", message=text)

    result, name = pull_model(settings, profile, pull, progress=progress, on_status=on_status)
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
        status.update(
            "provisioning", phase="failed", error=f"{type(exc).__name__}: {exc}", model=spec
        )
    else:
        status.update("provisioning", phase="ready", error="", model=spec, message=message)
        logger.info("ui.model.pull.done", spec=spec)
