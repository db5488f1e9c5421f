"""The real ``startup.py``: the API child owns the stores, the front forwards /v1 and /api
from the public port, the CLI goes through the running service. No language model here
(OLYMPUS_ENGINE=none: the extractive backend answers); tests/api has SmolLM2."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import openai
import pytest

from src.access.keys import KeyStore
from src.service.client import RemotePipeline
from tests.fixtures.pdfs import make_text_pdf
from tests.front.conftest import start  # noqa: F401 - fixture
from tests.integration.test_answer import PAGES
from tests.supervisor.conftest import (  # noqa: F401 - fixtures
    REPO,
    fake_ollama,
    free_port,
    olympus,
    olympus_env,
    placeholder_app,
)

pytestmark = pytest.mark.slow
QUESTION = "Which TCP port does the upsd daemon listen on?"


def _cli(o, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "src", *args],
        cwd=REPO,
        env=o.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, time.perf_counter() - started


def test_openai_sdk_and_cli_through_the_public_port(start):
    o, _ = start(OLYMPUS_BEHIND_PROXY="true")
    # ready once the library is open and the embedder loaded (as the supervisor waits: 120 s)
    o.wait_status(lambda s: s.get("api", {}).get("state") == "ready", 120, "API ready")
    _, key = KeyStore(o.data_dir).create("front-test", "write")  # it uploads
    front = f"http://127.0.0.1:{o.port}"

    # upload through the front, with the client the UI uses
    remote = RemotePipeline(front, key)
    seen = []
    result = remote.ingest_bytes(make_text_pdf(PAGES), "power-manual.pdf", progress=seen.append)
    assert result.status == "added" and result.doc.pages == 4
    assert seen and seen[-1].stage in ("done", "store")

    client = openai.OpenAI(base_url=f"{front}/v1", api_key=key, max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="olympus", stream=True, messages=[{"role": "user", "content": QUESTION}]
        )
    )
    final = chunks[-1].model_extra
    assert final["olympus"]["backend_name"] == "extractive"
    assert any(c["page_start"] <= 3 <= c["page_end"] for c in final["citations"])
    assert "3493" in "".join(c.choices[0].delta.content or "" for c in chunks)

    # loopback only by default: a client from elsewhere (as the proxy reports it) is refused
    far = httpx.get(
        f"{front}/v1/models",
        headers={"authorization": f"Bearer {key}", "x-forwarded-for": "203.0.113.9"},
    )
    assert far.status_code == 403 and "OLYMPUS_API_PUBLIC" in far.json()["error"]["hint"]
    assert httpx.get(f"{front}/v1/models").status_code == 401  # and a key is needed anyway

    # the CLI finds the running service: same answer schema, no store opened by the CLI
    done, _ = _cli(o, "search", "upsd TCP port", "--json")
    assert done.returncode == 0, done.stderr
    top = json.loads(done.stdout)["results"][0]
    assert top["document"] == "power-manual.pdf" and top["page_start"] <= 3 <= top["page_end"]
    done, _ = _cli(o, "ask", QUESTION, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer["sources"][0]) == set(top)  # one schema for passages
    assert answer["citations"][0]["document"] == "power-manual.pdf"
    done, _ = _cli(o, "docs", "list", "--json")
    assert [d["name"] for d in json.loads(done.stdout)] == ["power-manual.pdf"]
