"""LangChain's ``ChatOpenAI`` (a client people plug into OpenAI-compatible servers) against the
real service: ``invoke`` and ``stream`` give the same cited answer, with the engine's usage."""

from __future__ import annotations

import pytest

from tests.api.conftest import QUESTION

pytestmark = pytest.mark.slow


def _chat(service, **kwargs):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=f"{service.url}/v1",
        api_key=service.key,
        model="llamacpp",
        temperature=0,
        seed=7,
        max_retries=0,
        timeout=300,
        stream_usage=True,
        **kwargs,
    )


def test_invoke_and_stream_give_the_same_answer(service):
    """16 tokens at temperature 0: llama.cpp repeats itself over so short an answer (over a
    long one a prompt served from its cache can tip a near tie the other way)."""
    chat = _chat(service, max_tokens=16)
    whole = chat.invoke(QUESTION)
    assert "3493" in whole.content
    assert whole.response_metadata["model_name"] != "olympus"
    assert 1 <= whole.usage_metadata["output_tokens"] <= 16

    chunks = list(chat.stream(QUESTION))
    streamed = "".join(c.content for c in chunks)
    assert streamed == whole.content
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["output_tokens"] == whole.usage_metadata["output_tokens"]


def test_a_refused_field_is_a_clear_error(service):
    import openai

    with pytest.raises(openai.BadRequestError) as err:
        _chat(service).bind(response_format={"type": "json_object"}).invoke(QUESTION)
    assert "response_format" in str(err.value)
