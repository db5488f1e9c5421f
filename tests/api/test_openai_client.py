"""The official ``openai`` package against the real service: SmolLM2 answers over the real
library; citations (document, pages, passage) come with the answer; errors in OpenAI's shape."""

from __future__ import annotations

import re

import openai
import pytest

from tests.api.conftest import QUESTION

pytestmark = pytest.mark.slow


def _client(service, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{service.url}/v1", api_key=key or service.key, max_retries=0, timeout=300
    )


def _on_page_3(citation: dict) -> bool:
    return (
        citation["document"] == "power-manual.pdf"
        and citation["page_start"] <= 3 <= citation["page_end"]
    )


def test_answer_cites_the_page_it_comes_from(service):
    reply = _client(service).chat.completions.create(
        model="olympus", messages=[{"role": "user", "content": QUESTION}], temperature=0
    )
    text = reply.choices[0].message.content
    assert "3493" in text, text
    citations = reply.model_extra["citations"]
    assert citations and _on_page_3(citations[0]), citations
    assert "3493" in citations[0]["text"]  # the passage itself, not only its address
    assert reply.model_extra["olympus"]["backend_name"] == "llamacpp"
    assert reply.model == "smollm2-135m-offline"  # what wrote it, as the engine reports it
    # the fixture caps answers at 40 tokens: an answer that reached the cap says "length"
    cut = reply.usage.completion_tokens >= service.settings.max_answer_tokens
    assert reply.choices[0].finish_reason == ("length" if cut else "stop")
    assert reply.usage.prompt_tokens > 50


def test_streamed_answer_is_the_answer_with_its_citations(service):
    """The deltas of a stream are the checked answer itself ([n] included): what a stock
    client shows equals the non-streamed content; the last chunk carries the citations."""
    stream = _client(service).chat.completions.create(
        model="olympus",
        stream=True,
        messages=[
            {"role": "system", "content": "ignored: Olympus writes its own prompt"},
            {"role": "user", "content": QUESTION},
        ],
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) > 3  # streamed, not one block
    final = chunks[-1]
    assert final.choices[0].finish_reason in ("stop", "length")
    streamed, checked = "".join(pieces), final.model_extra["olympus"]["answer"]
    assert streamed == checked and "3493" in streamed
    assert re.search(r"\[\d+\]", streamed), streamed  # the citations are in the text
    assert any(_on_page_3(c) for c in final.model_extra["citations"])


def test_model_picks_the_backend_and_models_are_listed(service):
    client = _client(service)
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "olympus" and "llamacpp" in ids and "extractive" in ids
    reply = client.chat.completions.create(
        model="extractive", messages=[{"role": "user", "content": QUESTION}]
    )
    assert reply.model_extra["olympus"]["backend_name"] == "extractive"
    assert reply.model.startswith("source extracts (")  # not the request's echo
    assert "3493" in reply.choices[0].message.content


def test_unknown_model_and_empty_question_are_openai_errors(service):
    client = _client(service)
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert "gpt-9" in err.value.message and "olympus" in err.value.body["hint"]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="olympus", messages=[{"role": "user", "content": "  "}]
        )
    assert err.value.code == "InvalidQuery"


def test_no_key_and_a_revoked_key_are_refused(service):
    with pytest.raises(openai.AuthenticationError) as err:
        _client(service, key="olk_not-a-real-key").models.list()
    assert err.value.code == "InvalidApiKey" and "keys create" in err.value.body["hint"]
    record, secret = service.keys.create("short-lived")
    assert next(m.id for m in _client(service, key=secret).models.list()) == "olympus"
    service.keys.revoke(record.id)
    with pytest.raises(openai.AuthenticationError):
        _client(service, key=secret).models.list()


def test_metrics_count_requests_first_tokens_and_uploads(service):
    import httpx

    from src.service.client import RemotePipeline
    from tests.fixtures.pdfs import make_text_pdf

    remote = RemotePipeline(service.url, service.key)
    added = remote.ingest_bytes(
        make_text_pdf(["A page about metrics.", "And another."]), "metrics.pdf"
    )
    remote.delete_document(added.doc.id)
    _client(service).chat.completions.create(
        model="olympus", messages=[{"role": "user", "content": QUESTION}]
    )
    text = httpx.get(
        f"{service.url}/api/metrics", headers={"authorization": f"Bearer {service.key}"}
    ).text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    done = 'olympus_api_requests_total{method="POST",route="/v1/chat/completions",status="200"}'
    assert float(lines[done]) >= 1
    assert float(lines['olympus_first_token_seconds_count{backend="llamacpp"}']) >= 1
    assert float(lines["olympus_ingest_pages_total"]) >= 2
    assert httpx.get(f"{service.url}/api/metrics").status_code == 401
