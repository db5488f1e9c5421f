"""`python -m src ask` in a real subprocess: ingest a generated PDF, ask, check the output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.pdfs import make_text_pdf

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "Power Manual\nThis page is about the history of the appliance. " * 3,
    "Power Manual\nThe upsd daemon listens on TCP port 3493 by default.\n"
    "Clients such as upsmon connect to that port to read the battery status.",
]


def _run(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "src", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("ask-cli")
    pdf = data / "power.pdf"
    pdf.write_bytes(make_text_pdf(PAGES))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLYMPUS_")}
    env.update(
        OLYMPUS_DATA_DIR=str(data / "data"),
        HF_HUB_OFFLINE="1",
        OLYMPUS_LOG_LEVEL="WARNING",
        OLYMPUS_BACKENDS="llamacpp,extractive",
        OLYMPUS_CONTEXT_TOKENS="2048",
        OLYMPUS_MAX_ANSWER_TOKENS="16",
    )
    env.pop("HF_TOKEN", None)
    done = _run(["ingest", str(pdf)], env)
    assert done.returncode == 0, done.stderr
    return env


def test_json_answer_from_the_real_engine(env, llamacpp_server):
    env = {
        **env,
        "OLYMPUS_LLAMACPP_PORT": str(llamacpp_server.port),
        "OLYMPUS_TINY_MODEL_ANSWERS": "model",
    }  # the tiny test model writes
    proc = _run(["ask", "Which TCP port does upsd listen on?", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # only the final event, as one JSON object
    assert set(out) >= {
        "answer",
        "backend",
        "citations",
        "sources",
        "timings",
        "prompt_tokens",
        "dropped_sources",
        "skipped",
        "interrupted",
    }
    assert out["backend"] == "llama.cpp (local)" and out["skipped"] == {}
    top = out["sources"][0]
    assert top["document"] == "power.pdf" and top["page_start"] <= 2 <= top["page_end"]
    assert {"retrieval_ms", "first_token_ms", "total_ms"} <= set(out["timings"])
    assert out["prompt_tokens"] > 0


def test_stream_shows_sources_answer_citations_and_skipped_backend(env):
    env = {**env, "OLYMPUS_LLAMACPP_PORT": "9"}  # nothing listens there: the engine is "down"
    env["OLYMPUS_LLAMACPP_MODEL_PATH"] = "/models/qwen2.5-7b-instruct-q4_k_m.gguf"  # > 1B
    proc = _run(["ask", "Which TCP port does upsd listen on?"], env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.index("Sources") < out.index("Extract from the sources") < out.index("Citations:")
    assert re.search(r"power\.pdf, (p\. 2|pp\. [12]-[23])", out)
    assert "Answered by source extracts (llama.cpp (local) did not answer)" in out
    assert "Skipped llamacpp:" in out
    # a small model's answer starts with the evidence, printed before the engine is asked; the
    # engine being down, a line says so after it, and the answer is printed once
    env["OLYMPUS_LLAMACPP_MODEL_PATH"] = "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
    proc = _run(["ask", "Which TCP port does upsd listen on?"], env)
    out = proc.stdout
    assert proc.returncode == 0 and "checking what" in proc.stderr, proc.stderr
    evidence = out.index("The most relevant sentences of the sources:")
    assert evidence < out.index("(llama.cpp (local) did not answer") < out.index("Citations:")
    assert out.count("3493") == 1 and "answer, checked" not in out
    assert "Answered by source extracts (llama.cpp (local) did not answer)" in out


def test_empty_question_is_a_clear_error(env):
    proc = _run(["ask", "   "], env)
    assert proc.returncode == 2 and "error:" in proc.stderr and "hint:" in proc.stderr


def test_the_short_id_docs_list_prints_scopes_an_answer(env):
    listed = json.loads(_run(["docs", "list", "--json"], env).stdout)
    short = listed[0]["id"][:12]  # what `docs list` and `ingest` print
    env = {**env, "OLYMPUS_LLAMACPP_PORT": "9"}
    proc = _run(["ask", "Which TCP port does upsd listen on?", "--doc", short], env)
    assert proc.returncode == 0, proc.stderr
    assert "power.pdf" in proc.stdout
    unknown = _run(["ask", "Which TCP port does upsd listen on?", "--doc", "0123456789ab"], env)
    assert unknown.returncode == 2 and "No document id starts with '0123456789ab'" in unknown.stderr
    assert "python -m src docs list" in unknown.stderr and "/v1/" not in unknown.stderr
