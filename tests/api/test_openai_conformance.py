"""The request fields an OpenAI client sends, with the official ``openai`` package against the
real service (SmolLM2 on llama.cpp): token caps, finish reasons, the engine's token counts,
usage in streams, one answer streamed or not, models.retrieve, refused and ignored fields."""

from __future__ import annotations

import openai
import pytest

from src.api.chat_request import FIELDS
from tests.api.conftest import QUESTION

pytestmark = pytest.mark.slow
ASK = [{"role": "user", "content": QUESTION}]


def _client(service) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{service.url}/v1", api_key=service.key, max_retries=0, timeout=300
    )


def test_max_tokens_cuts_the_model_and_says_length(service):
    reply = _client(service).chat.completions.create(
        model="llamacpp", messages=ASK, max_tokens=3, temperature=0
    )
    assert reply.choices[0].finish_reason == "length"
    # the engine's own count, not an estimate from characters
    assert 1 <= reply.usage.completion_tokens <= 3, reply.usage
    assert reply.usage.prompt_tokens > 50
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.created > 1_700_000_000


def test_max_tokens_above_the_server_limit_is_capped_by_it(service):
    reply = _client(service).chat.completions.create(
        model="llamacpp", messages=ASK, max_tokens=100_000, temperature=0
    )
    assert reply.usage.completion_tokens <= service.settings.max_answer_tokens


def test_streamed_text_equals_the_answer_not_streamed(service):
    """SmolLM2 writes both (16 tokens at temperature 0, so llama.cpp repeats itself: over a
    long answer a prompt served from its cache can tip a near tie the other way)."""
    client = _client(service)
    asked = dict(model="llamacpp", messages=ASK, temperature=0, seed=7, max_tokens=16)
    whole = client.chat.completions.create(**asked)
    chunks = list(
        client.chat.completions.create(**asked, stream=True, stream_options={"include_usage": True})
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last_choice = [c for c in chunks if c.choices][-1]
    # the deltas are the checked answer, [n] and all (what the stream's own final event says)
    assert streamed == last_choice.model_extra["olympus"]["answer"]
    assert streamed == whole.choices[0].message.content and "3493" in streamed
    assert last_choice.choices[0].finish_reason == whole.choices[0].finish_reason
    assert last_choice.model_extra["citations"] == whole.model_extra["citations"]
    # include_usage: one more chunk, without choices, with the engine's counts
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1
    assert chunks[-1].usage == whole.usage
    assert {c.model for c in chunks} == {whole.model}


def test_stop_strings_end_the_answer(service):
    reply = _client(service).chat.completions.create(
        model="llamacpp", messages=ASK, temperature=0, stop=["3493"]
    )
    olympus = reply.model_extra["olympus"]
    assert olympus["mode"] != "model" or "3493" not in reply.choices[0].message.content


def test_models_retrieve_and_the_model_that_answered(service):
    client = _client(service)
    model = client.models.retrieve("olympus")
    assert model.id == "olympus" and model.created > 1_700_000_000
    assert client.models.retrieve("extractive").id == "extractive"
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("gpt-9")
    assert err.value.code == "ModelNotFound" and "olympus" in err.value.body["hint"]
    # the response names what wrote the answer, not what was asked for
    reply = client.chat.completions.create(model="extractive", messages=ASK)
    assert reply.model.startswith("source extracts (")
    reply = client.chat.completions.create(model="olympus", messages=ASK)
    assert reply.model == "smollm2-135m-offline"  # as the engine reports it


@pytest.mark.parametrize(
    "field",
    [
        {"n": 2},
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"logprobs": True},
    ],
)
def test_fields_olympus_cannot_honour_are_refused(service, field):
    with pytest.raises(openai.BadRequestError) as err:
        _client(service).chat.completions.create(model="olympus", messages=ASK, **field)
    assert err.value.code == "UnsupportedParameter"
    assert err.value.param == next(iter(field)) and err.value.body["hint"]


def test_ignored_fields_are_said(service):
    reply = _client(service).chat.completions.with_raw_response.create(
        model="extractive", messages=ASK, presence_penalty=0.5, user="someone"
    )
    assert reply.headers["x-olympus-ignored"] == "presence_penalty,user"
    assert reply.parse().model_extra["ignored"] == ["presence_penalty", "user"]


def test_the_conformance_table_in_the_docs_is_the_code():
    """docs/api.md lists every field with what Olympus does with it, as the code does."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (supported|refused|ignored)", doc, re.M))
    assert rows == FIELDS
