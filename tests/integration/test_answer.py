"""The real answer pipeline: a generated PDF ingested into a real Library (Milvus Lite, BM25,
SQLite, MiniLM), answered by a real llama.cpp server (xllamacpp) on the tiny GGUF, and once
end to end by the real SmolLM2-135M model."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest

from src.answer.answerer import Answerer
from src.events import BackendSwitchEvent, DoneEvent, StatusEvent, TokenEvent
from src.settings import load_settings
from tests.fixtures.pdfs import make_text_pdf

FILLER = "This page describes general background of the appliance and its history. " * 20
PAGES = [
    "Olympus Power Manual\n" + FILLER,
    "Olympus Power Manual\nInstallation steps are listed in chapter two. " + FILLER,
    "Olympus Power Manual\nThe upsd daemon listens on TCP port 3493 by default.\n"
    "Clients such as upsmon connect to that port to read the battery status.\n" + FILLER,
    "Olympus Power Manual\nBackups of the data directory are taken nightly. " + FILLER,
]
QUESTION = "Which TCP port does the upsd daemon listen on?"


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder):
    from src.library.library import Library

    data = tmp_path_factory.mktemp("answer-data")
    pdf = tmp_path_factory.mktemp("answer-pdf") / "power-manual.pdf"
    pdf.write_bytes(make_text_pdf(PAGES))
    lib = Library.open(load_settings(data_dir=data))
    lib.ingest_file(pdf)
    yield lib
    lib.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answerer(library, port: int, **overrides) -> Answerer:
    """Through the engine on ``port``; its tiny model writes (these tests are about the engine:
    tiny-model mode, the default, is tested on its own below)."""
    overrides.setdefault("tiny_model_answers", "model")
    settings = load_settings(
        llamacpp_port=port,
        backends="llamacpp,extractive",
        context_tokens=2048,
        max_answer_tokens=24,
        **overrides,
    )
    return Answerer.from_settings(settings, library=library)


def _kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def test_sources_come_before_the_first_token_from_the_real_engine(library, llamacpp_server):
    events = list(_answerer(library, llamacpp_server.port).ask(QUESTION))
    kinds = _kinds(events)
    assert kinds[0] == "SourcesEvent" and kinds.index("SourcesEvent") < kinds.index("TokenEvent")
    assert any(isinstance(e, StatusEvent) and "llama.cpp (local)" in e.message for e in events)
    sources = events[0].sources
    assert sources and sources[0].chunk.page_start <= 3 <= sources[0].chunk.page_end
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.backend_name == "llamacpp"
    # the tiny test model streams noise; a small model's answer comes after the evidence and
    # only where a source supports it, so the reader gets the evidence (the answer's page),
    # streamed before the engine is asked, and the answer is exactly what streamed
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    asked = next(e for e in events if isinstance(e, StatusEvent) and "adds" in e.message)
    assert events.index(tokens[0]) < events.index(asked) and "3493" in tokens[0].text
    assert "".join(e.text for e in tokens) == done.answer
    assert done.mode in ("extract", "extract+model")
    assert "3493" in done.answer and done.citations[0].page_start <= 3
    assert done.timings["first_token_ms"] > done.timings["first_text_ms"]
    assert done.timings["first_text_ms"] >= done.timings["sources_ms"] > 0
    assert done.prompt_tokens > 50 and done.skipped == {}
    # counted with the engine's own tokenizer: the engine read what we measured (+ template)
    assert abs(done.prompt_tokens - done.timings["prompt_tokens_counted"]) <= 40


def test_the_models_own_stream_starts_with_its_first_token(library, llamacpp_server):
    """Without evidence first (OLYMPUS_SMALL_MODEL_EXTRACT=false, as for a model > 1B) the
    reader's first text is the engine's first token, and the stream is the model's text."""
    answerer = _answerer(library, llamacpp_server.port, small_model_extract=False)
    events = list(answerer.ask(QUESTION))
    done = events[-1]
    waiting = next(e for e in events if isinstance(e, StatusEvent) and "first token" in e.message)
    first = next(e for e in events if isinstance(e, TokenEvent))
    assert events.index(waiting) < events.index(first) and done.mode != "extract+model"
    assert done.timings["first_text_ms"] == done.timings["first_token_ms"]


def test_engine_down_falls_back_to_extractive_with_reason(library):
    events = list(_answerer(library, _free_port(), connect_timeout_s=1.0).ask(QUESTION))
    switch = next(e for e in events if isinstance(e, BackendSwitchEvent))
    assert (switch.from_backend, switch.to_backend) == ("llamacpp", "extractive")
    assert switch.reason
    done = events[-1]
    assert done.backend_name == "extractive" and "llamacpp" in done.skipped
    assert "3493" in done.answer
    assert any(c.page_start <= 3 <= c.page_end for c in done.citations)


def test_first_token_deadline_hands_over_to_extractive(library, llamacpp_server):
    answerer = _answerer(library, llamacpp_server.port, first_token_timeout_s=0.001)
    events = list(answerer.ask(QUESTION))
    switch = next(e for e in events if isinstance(e, BackendSwitchEvent))
    assert "first token" in switch.reason
    assert events[-1].backend_name == "extractive"
    assert "first token" in events[-1].skipped["llamacpp"]


def test_engine_killed_mid_answer_keeps_text_and_flags_interrupted(library, tiny_gguf):
    """The engine process (as the supervisor runs it: ``python -m src engine serve``) is
    SIGKILLed at its first token. (An in-process engine cannot die mid-answer: stopping it
    waits for the answer to finish.)"""
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    engine = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "src",
            "engine",
            "serve",
            "--model",
            str(tiny_gguf),
            "--port",
            str(port),
            "--ctx",
            "2048",
            "--threads",
            "2",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert engine.poll() is None and time.monotonic() < deadline, "engine not up"
                time.sleep(0.2)
        # the model's own stream (a small model's would come after the evidence, at the end)
        answerer = _answerer(library, port, stall_timeout_s=5.0, small_model_extract=False)
        # a hot sampler: the random-weight model's text then varies, so the loop guard does
        # not end the answer on the tokens that arrived before the kill
        answerer.options = replace(answerer.options, max_tokens=400, temperature=2.0)
        events = []
        for event in answerer.ask(QUESTION):
            events.append(event)
            if isinstance(event, TokenEvent) and engine.poll() is None:
                engine.kill()  # at the first token: what it streamed before is all there is
    finally:
        engine.kill()
        engine.wait()
    done = events[-1]
    streamed = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert done.interrupted and done.error and done.backend_name == "llamacpp"
    assert streamed and done.answer.startswith(streamed[:5])


@pytest.mark.slow
def test_end_to_end_with_real_smollm2_cites_the_ingested_page(library):
    """SmolLM2-135M rarely writes [n] itself; Olympus then attributes its sentences to the
    source they come from (inferred citations). Either way the citation must name page 3."""
    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.models.model_files import bundled_gguf

    with LlamaCppEngine(bundled_gguf(), port=0, ctx=2048) as engine:
        engine.wait_ready(120)
        default = _answerer(library, engine.port, tiny_model_answers="extractive")
        extract = list(default.ask(QUESTION))[-1]
        answering = default.backend_choice.answering()
        answerer = _answerer(library, engine.port, first_token_timeout_s=120.0)
        answerer.options = replace(answerer.options, max_tokens=40, temperature=0.0)
        events = list(answerer.ask(QUESTION))
    done = events[-1]
    # the evidence streams before SmolLM2 is asked; what it adds comes at the end, so the
    # answer is exactly what streamed
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    asked = next(e for e in events if isinstance(e, StatusEvent) and "adds" in e.message)
    assert events.index(tokens[0]) < events.index(asked) and "3493" in tokens[0].text
    assert "".join(e.text for e in tokens) == done.answer
    assert done.timings["first_text_ms"] < done.timings["first_token_ms"]
    # the engine reports the bundled model and its size (GET /v1/models: 134.5M parameters):
    # by default it is too small to write, and the answer says what wrote it instead
    assert (answering.model, answering.reported, answering.writer) == (
        "smollm2-135m-offline",
        True,
        "extract",
    )
    assert 130e6 < answering.params < 140e6
    assert extract.backend_name == "extractive" and extract.mode == "extract"
    assert extract.answered_by == (
        "source extracts (model smollm2-135m-offline is too small to write)"
    )
    assert extract.answer.startswith(  # the answer's heading gives the same reason
        "Extract from the sources (model smollm2-135m-offline is too small to write):\n"
    )
    # with OLYMPUS_TINY_MODEL_ANSWERS=model it writes, named as the engine reports it
    assert done.backend_name == "llamacpp", done.skipped
    # a model <= 1B comes after the evidence, and only where it adds what a source supports;
    # else its answer is set aside, and the credit says so
    assert done.model == "smollm2-135m-offline"
    assert done.answered_by in (
        "smollm2-135m-offline",
        "source extracts (the answer of smollm2-135m-offline was set aside)",
    )
    assert (done.mode == "extract") == ("set aside" in done.answered_by)
    assert done.sources[0].chunk.page_start <= 3 <= done.sources[0].chunk.page_end
    assert "3493" in done.answer, done.answer
    assert done.citations and done.citations[0].page_start <= 3 <= done.citations[0].page_end
    assert done.citations[0].doc_name == "power-manual.pdf"
