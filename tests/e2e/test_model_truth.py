"""A fresh install names what answers the same everywhere, as the engine reports it.

``python startup.py`` on a temp data dir with the Hub unreachable: provisioning cannot fetch
the recommended model, so the llama.cpp engine serves the bundled SmolLM2-135M, which is too
small to write (tiny-model mode). Every place that names the answering model must then say
"source extracts (model smollm2-135m-offline is too small to write)": the CLI's answer, the
API's ``model``, and in a real browser the chat banner, the answer, the Models and System
pages. Nowhere may SmolLM2 be said to answer, nor the profile's recommendation. The source
text of the extract shows literally ("two adjacent '*'s" is no emphasis). Screenshots go to
tests/artifacts/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_browser import (
    ARTIFACTS,
    CHROMIUM,
    REPO,
    _ask,
    _engine_ready,
    _free_port,
    _running_app,
    _shot,
    _upload,
    _wait_app,
    browser,  # noqa: F401 - a fixture, used by name
)
from tests.fixtures.pdfs import make_text_pdf

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]

EXTRACTS = "source extracts (model smollm2-135m-offline is too small to write)"
HEADING = "Extract from the sources (model smollm2-135m-offline is too small to write):"
PAGES = [
    "Flux Capacitor Service Manual\nChapter 1 introduces the time circuits and the display. "
    + "The display shows the destination time and the last time departed. " * 3,
    "Flux Capacitor Service Manual\nThe flux capacitor calibration interval is 88 days. "
    "Each calibration is marked in the log_book with two adjacent '*'s and a # sign. "
    + "Log every visit in the garage book with the odometer reading and the date. "
    * 2,
]
QUESTION = "How is each flux capacitor calibration marked in the log book?"


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OLYMPUS_")}
    env.update(OLYMPUS_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", OLYMPUS_LOG_LEVEL="WARNING")
    return subprocess.run(
        [sys.executable, "-m", "src", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.timeout(1200)
def test_a_fresh_install_names_the_extract_as_what_answers_everywhere(tmp_path, browser):
    from src.access.keys import KeyStore

    data = tmp_path / "data"
    with _running_app(tmp_path, OLYMPUS_LLAMACPP_PORT=str(_free_port())) as url:
        _engine_ready(data, timeout=180)
        # and provisioning done (the warm-up of every slot): the banner says why a small
        # model answers only once the model is ready
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = json.loads((data / "status.json").read_text())
            if status.get("provisioning", {}).get("phase") == "ready":
                break
            time.sleep(0.3)
        assert status["provisioning"].get("source") == "offline-fallback", status["provisioning"]

        # the CLI, through the running service
        pdf = tmp_path / "flux-manual.pdf"
        pdf.write_bytes(make_text_pdf(PAGES))
        page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
        page.set_default_timeout(60_000)
        _upload(page, url, pdf)
        asked = _cli(data, "ask", QUESTION)
        assert asked.returncode == 0, asked.stderr
        assert f"Answered by {EXTRACTS}" in asked.stdout, asked.stdout
        assert HEADING in asked.stdout, asked.stdout  # the answer's own heading says the same
        assert "qwen" not in asked.stdout.lower()

        # the OpenAI-compatible API: `model` names what produced the answer
        _, key = KeyStore(data).create("model-truth")
        api = httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=300)
        body = {"model": "olympus", "messages": [{"role": "user", "content": QUESTION}]}
        reply = api.post("/v1/chat/completions", json=body).json()
        assert reply["model"] == EXTRACTS, reply.get("model")
        assert reply["olympus"]["answered_by"] == EXTRACTS
        assert HEADING in reply["choices"][0]["message"]["content"]
        with api.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
            chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
        assert {c["model"] for c in chunks} == {EXTRACTS}
        api.close()

        # the browser: banner, answer, Models, System
        page.goto(url)
        _wait_app(page)
        page.get_by_text(f"Answering now: {EXTRACTS}").first.wait_for(timeout=180_000)
        page.wait_for_timeout(1000)
        _shot(page, "model-truth-chat-banner")
        answer = _ask(page, url, QUESTION)
        page.get_by_text("Answered by").first.wait_for(timeout=180_000)
        page.wait_for_timeout(1500)
        banner = page.locator('[data-testid="stAlert"]').first.inner_text()
        assert f"Answering now: {EXTRACTS}" in banner, banner
        summary = page.get_by_text("Answered by").first.inner_text()
        assert EXTRACTS in summary, summary
        text = answer.inner_text()
        assert "two adjacent '*'s" in text, text  # literal, not emphasis
        assert answer.locator('[data-testid="stMarkdownContainer"] em').count() == 0
        _shot(page, "model-truth-chat")
        seen = {"chat": page.inner_text("body")}
        for name, row in (("models", "Answering"), ("system", "Model (answering)")):
            page.goto(f"{url}/{name}")
            _wait_app(page)
            page.get_by_text(row, exact=True).first.wait_for(timeout=60_000)
            page.get_by_text(EXTRACTS).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            _shot(page, f"model-truth-{name}")
            seen[name] = page.inner_text("body")
        system_row = page.locator("tr", has_text="Model (answering)").first.inner_text()
        assert EXTRACTS in system_row, system_row
        for name, shown in seen.items():
            assert EXTRACTS in shown, name
            assert "smollm2-135m-offline is answering" not in shown, name
            assert "with smollm2" not in shown.lower(), name
            assert "no language model was used" not in shown, name
        assert (ARTIFACTS / "model-truth-system.png").exists()
