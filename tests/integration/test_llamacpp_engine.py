"""The in-process llama.cpp engine (xllamacpp): start, health, stop, errors; the real SmolLM2."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from shared_utils.errors import EngineStartTimeout, ModelNotFound
from shared_utils.generation.base import Delta, GenerationOptions, Message
from shared_utils.generation.chain import FallbackChain, Interrupted
from shared_utils.generation.hf_inference import HFInferenceBackend
from shared_utils.llamacpp_engine import LlamaCppEngine
from src.models.model_files import bundled_gguf


def test_engine_serves_health_and_openai_models(llamacpp_server):
    assert httpx.get(f"{llamacpp_server.url}/health").json() == {"status": "ok"}
    models = httpx.get(f"{llamacpp_server.url}/v1/models").json()
    assert models["data"], "the OpenAI-compatible API lists the loaded model"
    assert llamacpp_server.url.startswith("http://127.0.0.1:")


def test_default_gguf_is_the_smollm2_file_from_the_package():
    path = bundled_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50e6
    assert path.read_bytes()[:4] == b"GGUF"


def test_missing_model_file_is_model_not_found(tmp_path):
    with pytest.raises(ModelNotFound) as info:
        LlamaCppEngine(tmp_path / "none.gguf", port=0).start()
    assert "OLYMPUS_LLAMACPP_MODEL_PATH" in info.value.hint


def test_not_a_gguf_fails_with_a_clear_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all" * 100)
    with pytest.raises(EngineStartTimeout) as info:
        LlamaCppEngine(bad, port=0).start()
    assert "bad.gguf" in str(info.value)


def test_port_in_use_fails_with_a_clear_error(tiny_gguf):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(EngineStartTimeout) as info:
            LlamaCppEngine(tiny_gguf, port=busy.getsockname()[1]).start()
    assert "port is free" in info.value.hint


def test_wait_ready_times_out_when_nothing_answers():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = LlamaCppEngine("unused.gguf", port=port)
    t0 = time.monotonic()
    with pytest.raises(EngineStartTimeout):
        engine.wait_ready(0.5, poll_s=0.05)
    assert time.monotonic() - t0 < 30  # it gave up at its deadline rather than hang


def test_params_tuned_for_small_cpus(tiny_gguf):
    p = LlamaCppEngine(tiny_gguf, port=0, ctx=2048, threads=2).params()
    assert p.n_ctx == 2048 and p.n_parallel == 1
    assert p.cpuparams.n_threads == 2 and p.cpuparams_batch.n_threads == 2
    assert p.cache_prompt is True and p.n_cache_reuse > 0


def test_parallel_slots_each_keep_the_whole_context(tiny_gguf):
    p = LlamaCppEngine(tiny_gguf, port=0, ctx=2048, threads=2, parallel=4).params()
    assert p.n_parallel == 4 and p.cont_batching is True
    assert p.kv_unified is True and p.n_ctx == 4 * 2048  # one pool: 2048 tokens per slot


def test_engine_stopped_mid_answer_is_interrupted_with_text_kept(tiny_gguf):
    engine = LlamaCppEngine(tiny_gguf, port=0, ctx=1024).start()
    engine.wait_ready(30)
    backend = HFInferenceBackend(base_url=f"{engine.url}/v1", name="llamacpp")
    options = GenerationOptions(max_tokens=2000, temperature=0.0, stall_timeout_s=10)
    events, texts = [], []
    try:
        for event in FallbackChain([backend]).stream(
            [Message("user", "Tell a story.")], options=options
        ):
            events.append(event)
            if isinstance(event, Delta) and event.text:
                texts.append(event.text)
                if len(texts) == 3:
                    threading.Thread(target=engine.stop).start()  # the engine goes away
    finally:
        engine.stop()
    interrupted = [e for e in events if isinstance(e, Interrupted)]
    assert interrupted, "the chain says the answer was cut off"
    assert events[-1].interrupted and events[-1].backend == "llamacpp"
    assert len(texts) >= 3, "what was streamed before the engine stopped is kept"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{engine.url}/health", timeout=1)


@pytest.mark.slow
def test_real_smollm2_answers_a_simple_question():
    with LlamaCppEngine(bundled_gguf(), port=0, ctx=1024) as engine:
        engine.wait_ready(60)
        backend = HFInferenceBackend(base_url=f"{engine.url}/v1", name="llamacpp")
        answer = backend.generate(
            [
                Message("system", "You are a helpful assistant."),
                Message("user", "What is the capital city of France?"),
            ],
            options=GenerationOptions(max_tokens=16, temperature=0.0),
        )
    assert "Paris" in answer
