"""Fixtures for the Streamlit page tests (streamlit.testing.v1.AppTest on the real app)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "streamlit_app.py")


def _clear_caches() -> None:
    from src.ui import state

    state.reset()  # close the pipeline and queue of the previous test


@pytest.fixture
def reachable_hub(monkeypatch: pytest.MonkeyPatch):
    """A local port that accepts connections, as the Hub's host would (set after app_env)."""
    import socket

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("OLYMPUS_HF_HUB_OFFLINE", raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        monkeypatch.setenv("OLYMPUS_HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        yield


class LazyService:
    """The service API (``src.api``: the stores, the upload queue, the answers) for one test,
    in this process under uvicorn, as ``startup.py`` runs it beside the UI. It starts when the
    UI first opens its pipeline, so it reads the settings the test has set by then."""

    def __init__(self, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from src.access.keys import new_service_token

        self.port = free_port()
        self.token = new_service_token(data_dir)
        self.server = self.pipeline = self.queue = None
        monkeypatch.setenv("OLYMPUS_SERVICE_URL", f"http://127.0.0.1:{self.port}")
        monkeypatch.setenv("OLYMPUS_SERVICE_TOKEN", self.token)

    def start(self) -> None:
        from src.access.keys import KeyStore
        from src.api.app import build_app
        from src.library.jobs import IngestQueue
        from src.models.profile import detect
        from src.pipeline import RAGPipeline
        from src.settings import load_settings
        from tests.api.conftest import ThreadedServer

        if self.server is not None:
            return
        settings = load_settings()
        self.pipeline = RAGPipeline.from_settings(settings, profile=detect(settings))
        self.queue = IngestQueue.from_settings(settings, spool=settings.data.upload_spool)
        app = build_app(
            self.pipeline,
            keys=KeyStore(settings.data_dir),
            service_token=self.token,
            queue=self.queue,
            max_upload_mb=settings.max_upload_mb,
        )
        self.server = ThreadedServer(app, self.port).__enter__()

    def stop(self) -> None:
        if self.server is not None:
            self.queue.shutdown()
            self.server.__exit__(None, None, None)
            self.pipeline.close()
            self.server = None


@pytest.fixture
def service_api(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """The test's service API (started when the UI first needs it; see ``LazyService``)."""
    service = LazyService(data_dir, monkeypatch)
    yield service
    service.stop()


@pytest.fixture
def app_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch, service_api: LazyService) -> Path:
    """A fresh data dir, the extractive backend, no process-wide objects left over, and the
    UI reaching its library through the service API, as in production."""
    from src.ui import state

    monkeypatch.setenv("OLYMPUS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("OLYMPUS_BACKENDS", "extractive")
    # no test touches the network: the Models page's Hub check meets a closed local port
    monkeypatch.setenv("OLYMPUS_HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    # the pages ask the llama.cpp engine which model it serves: no engine of another program
    # on the default port may answer (a test that runs one sets its port)
    monkeypatch.setenv("OLYMPUS_LLAMACPP_PORT", str(free_port()))
    open_remote = state._open_pipeline

    def open_pipeline():
        service_api.start()
        return open_remote()

    monkeypatch.setattr(state, "_open_pipeline", open_pipeline)
    _clear_caches()
    yield data_dir
    _clear_caches()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_app() -> Callable[..., object]:
    from streamlit.testing.v1 import AppTest

    def _make(page: str | None = None):
        at = AppTest.from_file(APP, default_timeout=90)
        at.run()
        if page:
            at.switch_page(f"src/ui/pages/{page}.py").run()
        return at

    return _make


def texts(at, kind: str = "markdown") -> list[str]:
    """Values of all elements of ``kind`` (markdown, caption, error, success, info...)."""
    return [str(e.value) for e in getattr(at, kind)]


def all_text(at) -> str:
    """Everything a user can read on the page, joined (for 'does it say X' checks)."""
    parts = []
    for kind in (
        "title",
        "subheader",
        "markdown",
        "caption",
        "error",
        "success",
        "info",
        "warning",
    ):
        parts += texts(at, kind)
    for p in at.get("progress"):
        parts.append(str(getattr(p.proto, "text", "")))
    return unescape("\n".join(parts))


def unescape(markdown: str) -> str:
    """Markdown source as the reader sees it: backslash escapes resolved, no word joiners."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def wait_for_ingest(at, *, timeout: float = 120.0) -> None:
    """Rerun the page until no file is being indexed any more (jobs run in a thread)."""
    from src.ui import state

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not state.ingest_queue().active():
            at.run()
            return
        time.sleep(0.3)
    raise AssertionError("indexing did not finish in time")
