"""What answers, read from the engine (``src/answer/answering.py``): the real llama.cpp server on the
tiny GGUF (``GET /v1/models``) and the Ollama double (``POST /api/show``)."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from src.answer.answering import answering_now, decide
from src.answer.decoding import TINY_MAX_PARAMS, decoding_for
from src.models.backends import BackendPlan, build_backend
from src.models.profile import detect
from src.settings import load_settings
from tests.doubles.ollama_server import OllamaDouble


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_llamacpp_reports_the_file_it_serves_and_its_size(llamacpp_server, data_dir):
    """The plan names the profile's recommendation (as `python -m src ask` beside
    `python -m src engine serve` did); the engine serves another, tiny model: the engine wins,
    and its size, not the recommendation's, makes it too small to write."""
    settings = load_settings(data_dir=data_dir, llamacpp_port=llamacpp_server.port)
    plan = BackendPlan(("llamacpp", "extractive"), {"llamacpp": "qwen2.5-0.5b-instruct"})
    head = build_backend("llamacpp", settings, plan)
    report = head.served_model()
    assert report.id.endswith("tiny.gguf") and 0 < report.params < 10e6
    answering = decide(plan, settings, head)
    assert (answering.model, answering.reported, answering.writer) == ("tiny.gguf", True, "extract")
    assert answering.name == "source extracts (model tiny.gguf is too small to write)"
    assert decoding_for(answering.model, 320, params=answering.params).tiny  # not 0.5B settings
    writes = decide(plan, settings.model_copy(update={"tiny_model_answers": "model"}), head)
    assert (writes.writer, writes.name) == ("model", "tiny.gguf")


def test_an_engine_that_does_not_answer_leaves_the_plan_s_name(data_dir):
    settings = load_settings(data_dir=data_dir, llamacpp_port=_closed_port())
    plan = BackendPlan(("llamacpp", "extractive"), {"llamacpp": "qwen2.5-0.5b-instruct"})
    answering = decide(plan, settings, build_backend("llamacpp", settings, plan))
    assert (answering.model, answering.reported, answering.writer) == (
        "qwen2.5-0.5b-instruct",
        False,
        "model",
    )
    assert answering.params == 0.5e9  # from the name, for want of the engine's word


@pytest.mark.parametrize(
    ("model", "writer", "params"),
    [
        ("qwen2.5:0.5b", "model", 0.5e9),
        ("smollm2-135m-instruct:q4_1", "extract", 135e6),
    ],
)
def test_ollama_reports_the_size_of_the_model_it_loads(data_dir, model, writer, params):
    with OllamaDouble(models=[model]) as ollama:
        settings = load_settings(data_dir=data_dir, ollama_host=ollama.url, ollama_model=model)
        profile = dataclasses.replace(detect(settings), engine="ollama")
        answering = answering_now(settings, profile)
        assert ollama.requests_to("/api/show"), "the engine was asked"
    assert (answering.backend, answering.model, answering.reported) == ("ollama", model, True)
    assert (answering.writer, answering.params) == (writer, params)
    assert (answering.params <= TINY_MAX_PARAMS) == (writer == "extract")


def test_no_language_model_in_the_chain_is_named_as_such(data_dir):
    settings = load_settings(data_dir=data_dir, backends="extractive")
    answering = answering_now(settings, None)
    assert answering.name == "source extracts (no language model in the backend chain)"
