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
def app_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data dir, the extractive backend, and no process-wide objects left over."""
    monkeypatch.setenv("OLYMPUS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("OLYMPUS_BACKENDS", "extractive")
    # the pages ask the llama.cpp engine which model it serves: no engine of another program
    # on the default port may answer (a test that runs one sets its port)
    monkeypatch.setenv("OLYMPUS_LLAMACPP_PORT", str(free_port()))
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
    for kind in ("title", "subheader", "markdown", "caption", "error", "success", "info",
                 "warning"):
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
