"""The ollama backend against the Ollama API double, and against a real Ollama when reachable.

Tests using ``ollama_server`` run twice: on the double (always) and, marked ``ollama``, on a
real server at ``OLLAMA_HOST`` (skipped when unset/unreachable or it has no model).
Scripted failures (delays, stalls, error lines, dropped connections) only exist on the double.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import httpx
import pytest

from shared_utils.errors import (
    BackendUnavailable,
    GenerationInterrupted,
    ModelNotFound,
    OllamaNotRunning,
)
from shared_utils.generation.base import Delta, GenerationOptions, Message
from shared_utils.generation.chain import (
    ChainResult,
    FallbackChain,
    Interrupted,
    Switch,
)
from shared_utils.generation.extractive import ExtractiveBackend
from shared_utils.generation.ollama import OllamaBackend
from tests.doubles.ollama_server import OllamaDouble

QUESTION = [
    Message("system", "Answer in one short sentence."),
    Message("user", "What is the capital of France?"),
]


@dataclass
class Target:
    url: str
    model: str
    double: OllamaDouble | None


def _real_ollama() -> Target:
    host = os.environ.get("OLLAMA_HOST", "")
    if not host:
        pytest.skip("OLLAMA_HOST is not set: no real Ollama to test against")
    url = host if host.startswith("http") else f"http://{host}"
    try:
        tags = httpx.get(f"{url}/api/tags", timeout=2).json()
    except httpx.HTTPError:
        pytest.skip(f"Ollama at {url} is not reachable")
    if not tags.get("models"):
        pytest.skip(f"Ollama at {url} has no model")
    return Target(url, tags["models"][0]["name"], None)


@pytest.fixture(params=["double", pytest.param("real", marks=pytest.mark.ollama)])
def ollama_server(request):
    if request.param == "real":
        yield _real_ollama()
        return
    with OllamaDouble(models=["smollm2:135m"]) as double:
        yield Target(double.url, "smollm2:135m", double)


@pytest.fixture
def double():
    with OllamaDouble(models=["smollm2:135m"]) as d:
        yield d


def _opts(**kw) -> GenerationOptions:
    return GenerationOptions(**{"max_tokens": 24, "temperature": 0.0, **kw})


def _chain_run(backends, options):
    events = list(FallbackChain(backends).stream(QUESTION, options=options))
    return events, "".join(e.text for e in events if isinstance(e, Delta))


# --- against the double and a real Ollama -----------------------------------------------------
def test_streams_an_answer_with_final_stats(ollama_server):
    backend = OllamaBackend(ollama_server.url, ollama_server.model, keep_alive="5m", num_ctx=2048)
    deltas = list(backend.stream(QUESTION, options=_opts()))
    text = "".join(d.text for d in deltas)
    assert text.strip() and len([d for d in deltas if d.text]) > 1, "streamed in pieces"
    final = deltas[-1]
    assert final.done
    for key in ("prompt_tokens", "completion_tokens", "generation_ms", "total_ms"):
        assert final.stats[key] > 0, key


def test_health_reports_the_server_version(ollama_server):
    health = OllamaBackend(ollama_server.url, ollama_server.model).health()
    assert health["ok"] is True and "Ollama" in health["detail"]


def test_unknown_model_is_model_not_found_with_pull_hint(ollama_server):
    backend = OllamaBackend(ollama_server.url, "no-such-model:7b")
    with pytest.raises(ModelNotFound) as info:
        list(backend.stream(QUESTION, options=_opts()))
    assert "pull" in info.value.hint


def test_not_running_is_ollama_not_running():
    with OllamaDouble() as d:
        url = d.url  # a port that was just freed
    backend = OllamaBackend(url, "smollm2:135m")
    with pytest.raises(OllamaNotRunning):
        list(backend.stream(QUESTION, options=_opts()))
    health = backend.health()
    assert health["ok"] is False and "not reachable" in health["detail"]


# --- what was sent (double only) ------------------------------------------------------------
def test_sends_fixed_num_ctx_keep_alive_and_options(double):
    backend = OllamaBackend(double.url, "smollm2:135m", keep_alive="30m", num_ctx=4096)
    list(backend.stream(QUESTION, options=_opts(max_tokens=7, stop=("\n\n",), num_ctx=1024)))
    list(backend.stream(QUESTION, options=_opts(max_tokens=9, num_ctx=8192)))
    first, second = (r.body for r in double.requests_to("/api/chat"))
    assert first["options"]["num_ctx"] == second["options"]["num_ctx"] == 4096, (
        "the same num_ctx on every request, or Ollama reloads the model"
    )
    assert first["keep_alive"] == "30m"
    assert first["options"]["num_predict"] == 7 and first["options"]["stop"] == ["\n\n"]
    assert first["options"]["temperature"] == 0.0
    assert "repeat_penalty" not in first["options"]  # the engine's default unless set
    assert "top_p" not in first["options"] and "seed" not in first["options"]
    list(
        backend.stream(
            QUESTION, options=_opts(repeat_penalty=1.15, frequency_penalty=0.3, top_p=0.9, seed=7)
        )
    )
    third = list(double.requests_to("/api/chat"))[-1].body
    assert third["options"]["repeat_penalty"] == 1.15
    assert third["options"]["frequency_penalty"] == 0.3
    assert third["options"]["top_p"] == 0.9 and third["options"]["seed"] == 7  # an API client's
    assert first["messages"][0] == {"role": "system", "content": "Answer in one short sentence."}
    assert first["stream"] is True


def test_max_tokens_limits_the_answer(double):
    deltas = list(
        OllamaBackend(double.url, "smollm2:135m").stream(QUESTION, options=_opts(max_tokens=2))
    )
    assert len([d for d in deltas if d.text]) == 2 and deltas[-1].stats["completion_tokens"] == 2
    assert deltas[-1].stats["length_cut"] == 1.0  # Ollama's done_reason "length": cut by the cap


# --- failures mid-stream (double only) ----------------------------------------------------------
def test_error_line_mid_stream_is_interrupted_and_text_kept(double):
    double.script.error_after_tokens = 2
    backend = OllamaBackend(double.url, "smollm2:135m")
    seen = []
    with pytest.raises(GenerationInterrupted) as info:
        for d in backend.stream(QUESTION, options=_opts()):
            seen.append(d.text)
    assert "llama runner process has terminated" in str(info.value)
    assert "".join(seen) == "Paris is "

    events, text = _chain_run([backend, ExtractiveBackend()], _opts())
    assert text == "Paris is "
    assert isinstance(events[-2], Interrupted) and events[-1].interrupted
    assert events[-1].backend == "ollama"


def test_error_line_before_first_token_hands_over(double):
    double.script.error_after_tokens = 0
    backend = OllamaBackend(double.url, "smollm2:135m")
    with pytest.raises(BackendUnavailable):
        list(backend.stream(QUESTION, options=_opts()))
    events, _ = _chain_run([backend, ExtractiveBackend()], _opts())
    switch = next(e for e in events if isinstance(e, Switch))
    assert switch.to_backend == "extractive" and "terminated" in switch.reason
    assert events[-1].backend == "extractive"


def test_dropped_connection_mid_stream_is_interrupted(double):
    double.script.drop_after_tokens = 3
    events, text = _chain_run([OllamaBackend(double.url, "smollm2:135m")], _opts())
    assert text == "Paris is the "
    assert isinstance(events[-2], Interrupted) and "closed" in events[-2].reason.lower()


def test_first_token_deadline_hands_over_to_the_next_backend(double):
    double.script.first_token_delay_s = 60  # the double wakes up when it is stopped
    t0 = time.monotonic()
    events, _ = _chain_run(
        [OllamaBackend(double.url, "smollm2:135m"), ExtractiveBackend()],
        _opts(first_token_timeout_s=0.5),
    )
    assert time.monotonic() - t0 < 30, "the chain waited for the slow backend"
    switch = next(e for e in events if isinstance(e, Switch))
    assert switch.reason.startswith("no first token within 0.5 s")
    assert "OLYMPUS_FIRST_TOKEN_TIMEOUT_S" in switch.reason  # the hint says what to raise
    assert events[-1].backend == "extractive"


def test_stall_mid_answer_is_interrupted(double):
    double.script.stall_after_tokens, double.script.stall_s = 2, 60
    t0 = time.monotonic()
    events, text = _chain_run(
        [OllamaBackend(double.url, "smollm2:135m"), ExtractiveBackend()], _opts(stall_timeout_s=0.5)
    )
    assert time.monotonic() - t0 < 30, "the chain waited out the stall"
    assert text == "Paris is "
    assert isinstance(events[-2], Interrupted) and "stalled" in events[-2].reason


def test_stop_closes_the_http_response(double):
    double.script.token_delay_s = 0.2
    gen = FallbackChain([OllamaBackend(double.url, "smollm2:135m")]).stream(
        QUESTION, options=_opts()
    )
    texts = []
    for event in gen:
        if isinstance(event, Delta) and event.text:
            texts.append(event.text)
            if len(texts) == 2:
                break
    gen.close()  # the user pressed stop
    deadline = time.monotonic() + 30  # returns as soon as the abort is seen
    while double.aborted == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert double.aborted == 1, "the server saw the client go away and stopped answering"


def test_chain_result_carries_ollama_stats(double):
    events, _ = _chain_run([OllamaBackend(double.url, "smollm2:135m")], _opts())
    result = events[-1]
    assert isinstance(result, ChainResult) and result.backend == "ollama"
    assert result.stats["prompt_tokens"] > 0 and result.stats["tokens_per_s"] > 0
    assert result.stats["connect_ms"] >= 0 and result.stats["first_token_ms"] > 0


# --- the double's model-management API (used by the models tests) -------------------------------
def test_double_blob_create_tags_show_ps_delete(double, tiny_gguf):
    import ollama

    client = ollama.Client(host=double.url)
    digest = client.create_blob(tiny_gguf)
    assert httpx.head(f"{double.url}/api/blobs/{digest}").status_code == 200
    bad = httpx.post(f"{double.url}/api/blobs/sha256:{'0' * 64}", content=b"abc")
    assert bad.status_code == 400

    statuses = [
        p.status
        for p in client.create(
            model="tiny:q", files={"tiny.gguf": digest}, parameters={"num_ctx": 2048}, stream=True
        )
    ]
    assert statuses[0] == "parsing GGUF" and statuses[-1] == "success"
    created = {m.model: m for m in client.list().models}["tiny:q"]
    assert created.details.family == "llama" and created.details.quantization_level == "F16"
    assert created.size == tiny_gguf.stat().st_size
    assert "num_ctx" in client.show("tiny:q").parameters

    warm = client.generate(model="tiny:q", prompt="", keep_alive="10m")
    assert warm.done and warm.done_reason == "load"
    assert [m.model for m in client.ps().models] == ["tiny:q"]
    client.generate(model="tiny:q", prompt="", keep_alive=0)
    assert client.ps().models == []

    client.delete("tiny:q")
    with pytest.raises(ollama.ResponseError) as info:
        client.delete("tiny:q")
    assert info.value.status_code == 404


def test_double_create_with_missing_blob_fails(double):
    import ollama

    client = ollama.Client(host=double.url)
    with pytest.raises(ollama.ResponseError) as info:
        list(client.create(model="x", files={"x.gguf": "sha256:" + "1" * 64}, stream=True))
    assert "not found" in str(info.value)
    assert "x:latest" not in {m.model for m in client.list().models}


def test_double_pull_streams_progress(double):
    import ollama

    double.pullable["qwen2.5:0.5b"] = 1000
    client = ollama.Client(host=double.url)
    parts = list(client.pull("qwen2.5:0.5b", stream=True))
    assert parts[0].status == "pulling manifest" and parts[-1].status == "success"
    assert any(p.total == 1000 and p.completed == 1000 for p in parts)
    with pytest.raises(ollama.ResponseError):
        list(client.pull("nope:1b", stream=True))
