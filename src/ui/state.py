"""Process-wide objects shared by every browser session, created once and owned by the process.

- settings: read once per process;
- the environment profile: detected once;
- the RAG pipeline: one per process, thread-safe, so concurrent sessions share it (a client
  of the service API when startup.py runs one);
- the timing log and the ingest queue: small in-process services for the pages.

They are module-level singletons created under a lock, never entries of Streamlit's resource cache:
any browser, logged in or not, can send Streamlit's ``clear_cache`` message, and a cache
entry released that way closed the pipeline under a running ingest. Nothing a client sends
closes them; :func:`reset` (tests, process shutdown) is the only way.

Per-session things (chat history, scope, upload owner) live in ``st.session_state``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st
import structlog

from src.library.jobs import IngestQueue
from src.settings import Settings, load_settings, private_files
from src.status import StatusFile
from src.ui.timings import TimingLog

if TYPE_CHECKING:
    from src.models.profile import Profile
    from src.pipeline import RAGPipeline
    from src.service.client import RemotePipeline
    from src.service.upload_jobs import RemoteJobs

logger = structlog.get_logger(__name__)

T = TypeVar("T")
_lock = threading.Lock()  # guards the two dicts below
_objects: dict[str, Any] = {}
_building: dict[str, threading.Lock] = {}  # one per key: opening the pipeline blocks no one else


def _once(key: str, build: Callable[[], T]) -> T:
    """The object stored under ``key``, built by ``build`` on first use (errors not kept)."""
    with _lock:
        if key in _objects:
            return _objects[key]
        key_lock = _building.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            if key in _objects:
                return _objects[key]
        value = build()
        with _lock:
            _objects[key] = value
        return value


def settings() -> Settings:
    """The settings, read once per process (the entry point configures logging from them)."""
    return _once("settings", load_settings)


def _detect_profile() -> Profile:
    from src.models.profile import detect

    return detect(settings())


def profile() -> Profile:
    """The environment profile, detected once per process."""
    return _once("profile", _detect_profile)


def _open_pipeline() -> RAGPipeline | RemotePipeline:
    from src.pipeline import RAGPipeline

    s = settings()
    if s.service_url:  # startup.py runs the API process, which owns the stores
        from src.service.client import RemotePipeline

        logger.info("ui.pipeline.remote", url=s.service_url)
        return RemotePipeline(s.service_url, s.service_token, data_dir=s.data_dir)
    logger.info("ui.pipeline.open", data_dir=str(s.data_dir))
    with st.spinner("Opening the document library..."):
        pipeline = RAGPipeline.from_settings(s, profile=profile())
    pipeline.warm_up_in_background()  # the first upload or question must not pay the load
    return pipeline


def pipeline() -> RAGPipeline | RemotePipeline:
    """The one pipeline of this process (created on first use; errors propagate, not kept).

    Under ``startup.py`` it is a ``RemotePipeline`` to the service API (OLYMPUS_SERVICE_URL),
    which owns the stores (Milvus Lite allows one process per data dir); without that
    setting (tests, a bare ``streamlit run``) the process opens the stores itself."""
    return _once("pipeline", _open_pipeline)


def timings() -> TimingLog:
    """Recent answer timings of this process (ring buffer), for the System page."""
    return _once("timings", lambda: TimingLog(maxlen=50))


def ingest_queue() -> IngestQueue | RemoteJobs:
    """Where uploads are indexed, in the background (they keep going when the user changes
    page). Under ``startup.py``: the service's job queue, which this process only feeds and
    shows. Without a service: a queue in this process, whose files queued when Olympus
    crashed are indexed again at its next start."""
    return _once("ingest_queue", _resumed_queue)


def _resumed_queue() -> IngestQueue | RemoteJobs:
    s = settings()
    if s.service_url:
        from src.service.client import RemotePipeline
        from src.service.upload_jobs import RemoteJobs

        remote = pipeline()
        assert isinstance(remote, RemotePipeline)
        jobs = RemoteJobs(remote)
        jobs.send_spooled(s.data.ui_upload_spool)
        return jobs
    queue = IngestQueue.from_settings(s, spool=s.data.ui_upload_spool)
    if queue.spooled():
        queue.resume(pipeline())
    return queue


def status_file() -> StatusFile:
    """The supervisor's status file (provisioning progress, engine state)."""
    return StatusFile(settings().status_path)


def configure_logging() -> None:
    """Configure structlog and the file mode once per process (the app is an entry point)."""

    def _configure() -> bool:
        from shared_utils.logging_setup import configure_logging as _configure_logging

        s = settings()
        private_files()  # data files 0600, folders 0700 (also when run without startup.py)
        _configure_logging(s.log_format_resolved, s.log_level, secrets=s.secret_values())
        return True

    _once("logging", _configure)


def reset() -> None:
    """Stop the queue, close the pipeline and forget every process object.

    For tests (a new data dir per test) and process shutdown; no client message calls it.
    """
    with _lock:
        objects = dict(_objects)
        _objects.clear()
    queue = objects.get("ingest_queue")
    if queue is not None:
        queue.shutdown()
    pipe = objects.get("pipeline")
    if pipe is not None:
        pipe.close()
