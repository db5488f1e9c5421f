"""Process-wide objects shared by every browser session, created once (``st.cache_resource``).

- settings: read once per process;
- the environment profile: detected once;
- the RAG pipeline: one per data dir, thread-safe, so concurrent sessions share it;
- the timing log and the ingest queue: small in-process services for the pages.

Per-session things (chat history, scope) live in ``st.session_state``, never here.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import streamlit as st
import structlog

from src.settings import Settings, load_settings
from src.status import StatusFile
from src.ui.jobs import IngestQueue
from src.ui.timings import TimingLog

if TYPE_CHECKING:
    from src.pipeline import RAGPipeline

logger = structlog.get_logger(__name__)


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The settings, read once per process (the entry point configures logging from them)."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def _profile(data_dir: str) -> Any:
    if importlib.util.find_spec("src.profile") is None:
        return None
    from src.profile import detect

    return detect(settings())


def profile() -> Any:
    """The environment profile (``src.profile.Profile``), or None before it is built."""
    return _profile(str(settings().data_dir))


def _close_pipeline(pipeline: RAGPipeline) -> None:
    pipeline.close()


@st.cache_resource(show_spinner="Opening the document library...", on_release=_close_pipeline)
def _pipeline(data_dir: str) -> RAGPipeline:
    from src.pipeline import RAGPipeline

    logger.info("ui.pipeline.open", data_dir=data_dir)
    pipeline = RAGPipeline.from_settings(settings(), profile=profile())
    pipeline.warm_up_in_background()  # the first upload or question must not pay the load
    return pipeline


def pipeline() -> RAGPipeline:
    """The one pipeline of this process (created on first use; errors propagate, not cached)."""
    return _pipeline(str(settings().data_dir))


@st.cache_resource(show_spinner=False)
def _timings(data_dir: str) -> TimingLog:
    return TimingLog(maxlen=50)


def timings() -> TimingLog:
    """Recent answer timings of this process (ring buffer), for the System page."""
    return _timings(str(settings().data_dir))


@st.cache_resource(show_spinner=False)
def _ingest_queue(data_dir: str) -> IngestQueue:
    return IngestQueue()


def ingest_queue() -> IngestQueue:
    """The background ingestion queue: uploads keep going when the user changes page."""
    return _ingest_queue(str(settings().data_dir))


def status_file() -> StatusFile:
    """The supervisor's status file (provisioning progress, engine state)."""
    return StatusFile(settings().status_path)


@st.cache_resource(show_spinner=False)
def configure_logging() -> bool:
    """Configure structlog once per process (the app is an entry point)."""
    from shared_utils.logging_setup import configure_logging as _configure

    s = settings()
    _configure(s.log_format_resolved, s.log_level)
    return True
