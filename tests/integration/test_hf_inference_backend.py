"""The hf_inference backend in base-URL mode against the real llama.cpp server (tiny model)."""

from __future__ import annotations

import time

import pytest

from shared_utils.errors import BackendUnavailable, ModelNotFound
from shared_utils.generation.base import Delta, GenerationOptions, Message
from shared_utils.generation.chain import FallbackChain
from shared_utils.generation.hf_inference import HFInferenceBackend

PROMPT = [Message("system", "You answer questions."), Message("user", "Say something.")]


@pytest.fixture
def backend(llamacpp_server):
    return HFInferenceBackend(
        base_url=f"{llamacpp_server.url}/v1", label="llama.cpp (local)", name="llamacpp"
    )


def _opts(**kw) -> GenerationOptions:
    return GenerationOptions(**{"temperature": 0.0, "max_tokens": 8, **kw})


def test_streams_tokens_with_usage_stats(backend):
    deltas = list(backend.stream(PROMPT, options=_opts()))
    pieces = [d.text for d in deltas if d.text]
    assert len(pieces) > 1, "tokens arrive one by one"
    final = deltas[-1]
    assert final.done and final.stats["completion_tokens"] == 8
    assert final.stats["prompt_tokens"] > 5 and final.stats["prompt_ms"] > 0


def test_anti_repetition_settings_are_accepted_by_the_real_engine(backend):
    """repeat_penalty and the DRY sampler travel as llama.cpp's own request fields."""
    from shared_utils.generation.hf_inference import _engine_fields

    opts = _opts(max_tokens=6, repeat_penalty=1.15, dry_multiplier=0.8, frequency_penalty=0.2)
    assert _engine_fields(opts) == {
        "cache_prompt": True,
        "repeat_penalty": 1.15,
        "dry_multiplier": 0.8,
        "dry_base": 1.75,
        "dry_allowed_length": 2,
    }
    deltas = list(backend.stream(PROMPT, options=opts))
    assert deltas[-1].done and deltas[-1].stats["completion_tokens"] == 6


def test_max_tokens_is_respected(backend):
    deltas = list(backend.stream(PROMPT, options=_opts(max_tokens=3)))
    assert deltas[-1].stats["completion_tokens"] == 3
    assert deltas[-1].stats["length_cut"] == 1.0  # finish_reason "length": the cap cut it


def test_seed_and_top_p_reach_the_engine(backend):
    """Sampling at temperature 1 repeats itself with the same seed (llama.cpp honours it)."""
    opts = _opts(max_tokens=10, temperature=1.0, top_p=0.95, seed=1234)
    assert backend.generate(PROMPT, options=opts) == backend.generate(PROMPT, options=opts)


def test_stop_sequence_ends_the_answer(backend):
    full = backend.generate(PROMPT, options=_opts(max_tokens=12))
    words = full.split()
    assert len(words) >= 4, full
    stop = words[3]
    cut = backend.generate(PROMPT, options=_opts(max_tokens=12, stop=(stop,)))
    assert stop not in cut
    assert full.startswith(cut) and len(cut) <= full.index(stop)


def test_prompt_cache_reuses_the_common_prefix(backend):
    backend.generate(PROMPT, options=_opts(max_tokens=2))
    again = list(backend.stream(PROMPT, options=_opts(max_tokens=2)))
    assert again[-1].stats["cached_prompt_tokens"] > 0


def test_first_token_deadline_with_the_real_engine(backend):
    """The engine is reachable (connect passes) but cannot produce a token in 1 ms."""
    options = _opts(first_token_timeout_s=0.001)
    with pytest.raises(BackendUnavailable) as info:
        list(FallbackChain([backend]).stream(PROMPT, options=options))
    assert "llamacpp: no first token within 0.001 s (Raise OLYMPUS_FIRST_TOKEN_TIMEOUT_S" in str(
        info.value
    )
    assert backend.generate(PROMPT, options=_opts(max_tokens=2)), "the engine still answers"


def test_stop_frees_the_engine_for_the_next_question(backend):
    gen = FallbackChain([backend]).stream(PROMPT, options=_opts(max_tokens=1500))
    n = 0
    for event in gen:
        if isinstance(event, Delta) and event.text:
            n += 1
            if n == 3:
                break
    gen.close()  # user pressed stop: the response is closed, llama.cpp cancels the task
    t0 = time.monotonic()
    answer = backend.generate(PROMPT, options=_opts(max_tokens=2))
    assert answer and time.monotonic() - t0 < 60  # a liveness bound, not a speed target


def test_unreachable_server_is_backend_unavailable():
    dead = HFInferenceBackend(base_url="http://127.0.0.1:9/v1", name="llamacpp")
    with pytest.raises(BackendUnavailable) as info:
        list(dead.stream(PROMPT, options=_opts()))
    assert "not reachable" in str(info.value)
    assert dead.health()["ok"] is False
    with pytest.raises(BackendUnavailable):
        dead.connect(timeout=1)


def test_http_errors_are_typed(backend):
    """401/403 say HF_TOKEN; 404 is ModelNotFound (mapped at one point)."""
    import httpx

    request = httpx.Request("POST", "http://x/v1/chat/completions")
    for status, kind, words in (
        (401, BackendUnavailable, "HF_TOKEN"),
        (403, BackendUnavailable, "HF_TOKEN"),
        (404, ModelNotFound, ""),
    ):
        exc = httpx.HTTPStatusError(
            "e", request=request, response=httpx.Response(status, request=request)
        )
        mapped = backend._map_error(exc, started=False)
        assert type(mapped) is kind and words in mapped.hint


def test_works_in_hub_offline_mode(backend, monkeypatch):
    """Olympus runs with HF_HUB_OFFLINE=1; a local base URL must still be reachable."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert backend.generate(PROMPT, options=_opts(max_tokens=2))


def test_hub_mode_requires_a_model_or_base_url():
    with pytest.raises(BackendUnavailable):
        HFInferenceBackend()
    hub = HFInferenceBackend(model="Qwen/Qwen2.5-7B-Instruct", token=None)
    assert hub.health() == {"ok": False, "detail": "HF_TOKEN is not set"}
