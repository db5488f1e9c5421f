"""The real ``startup.py`` with a small app that shows this browser's rights as the real
gate (``src/ui/auth.py``, ``src/ui/identity.py``) computes them, behind the real front."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.supervisor.conftest import (  # noqa: F401 - fixtures reused here
    fake_ollama,
    free_port,
    olympus,
    olympus_env,
)

IDENTITY_APP = """import streamlit as st
from src.ui import auth, identity
if not auth.require_access():
    st.stop()
access = identity.access()
st.write(f"role={access.role} browser={access.browser_id}")
st.write(f"first={st.session_state.setdefault('first_browser', access.browser_id)}")
"""


@pytest.fixture
def placeholder_app(tmp_path: Path) -> Path:
    app = tmp_path / "identity_app.py"
    app.write_text(IDENTITY_APP)
    return app


@pytest.fixture
def start(olympus):
    """``start(**env)``: a healthy Olympus (no engine) and an httpx client for its front."""
    clients: list[httpx.Client] = []

    def _start(**env: str):
        env.setdefault("OLYMPUS_ENGINE", "none")
        env.setdefault("OLYMPUS_STREAMLIT_PORT", str(free_port()))
        app = olympus(**env)
        app.wait_healthy()
        client = httpx.Client(base_url=f"http://127.0.0.1:{app.port}", timeout=30)
        clients.append(client)
        return app, client

    yield _start
    for c in clients:
        c.close()


def cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())
