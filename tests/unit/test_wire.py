"""The one JSON schema: what the API sends, the remote client reads back as the same objects
(a UI talking to the service sees what it saw in-process), and errors keep their class."""

from __future__ import annotations

import json

from shared_utils.errors import DocumentNotFound, OlympusError, UploadRefused
from src.events import (
    BackendSwitchEvent,
    Citation,
    ClaimCheck,
    DoneEvent,
    QueueEvent,
    SourcesEvent,
    TokenEvent,
)
from src.service.wire import error_from_dict, error_to_dict, event_from_dict, event_to_dict
from tests.fixtures.sources import SOURCE


def _through_json(event):
    return event_from_dict(json.loads(json.dumps(event_to_dict(event))))


def test_every_event_comes_back_as_it_was_sent():
    done = DoneEvent(
        answer="Port 3493 [1].",
        backend="llama.cpp (local)",
        citations=[Citation(1, "abc", "manual.pdf", 3, 4, inferred=True)],
        sources=[SOURCE],
        timings={"first_token_ms": 12.5},
        prompt_tokens=99,
        skipped={"ollama": "not running"},
        backend_name="llamacpp",
        chain=("llamacpp", "extractive"),
        mode="model",
        supported_share=0.5,
        verified=["Port 3493."],
        unverified=["It listens there."],
        claims=[
            ClaimCheck("Port 3493 [1].", (1,), "supported", 0.75, 1, (1,)),
            ClaimCheck("It listens there [1].", (1,), "unverified", 0.5, 1),
            ClaimCheck("It hums.", (), "uncited", 0.0),
        ],
    )
    events = [
        SourcesEvent([SOURCE], retrieval_ms=5.0, query="q"),
        TokenEvent("Port"),
        BackendSwitchEvent("ollama", "llamacpp", "down"),
        QueueEvent(2, 40.0, "2nd in line, about 40 s"),
        done,
    ]
    assert [_through_json(e) for e in events] == events


def test_a_passage_has_the_same_page_fields_everywhere():
    sources = event_to_dict(SourcesEvent([SOURCE], retrieval_ms=1.0))["sources"]
    answer = event_to_dict(
        DoneEvent(
            answer="",
            backend="",
            citations=[Citation(1, "abc", "manual.pdf", 3, 4)],
            sources=[SOURCE],
            timings={},
        )
    )
    assert sources[0] == answer["sources"][0]
    assert {"document", "page_start", "page_end"} <= set(sources[0]) & set(answer["citations"][0])
    assert "pages" not in sources[0] and "doc_name" not in answer["citations"][0]


def test_a_full_answer_line_comes_back_as_its_own_error():
    from shared_utils.errors import AnswerQueueFull

    back = error_from_dict(
        error_to_dict(
            AnswerQueueFull("Too many questions at once.", hint="Ask again in about 40 s.")
        )
    )
    assert isinstance(back, AnswerQueueFull) and back.hint == "Ask again in about 40 s."


def test_errors_keep_their_class_and_fix():
    sent = error_to_dict(DocumentNotFound("No document has the id 'x'."))
    assert sent["error"]["code"] == "DocumentNotFound"
    back = error_from_dict(sent)
    assert isinstance(back, DocumentNotFound) and back.hint == DocumentNotFound.hint
    custom = error_from_dict(error_to_dict(UploadRefused("full", hint="wait")))
    assert isinstance(custom, UploadRefused) and custom.hint == "wait"
    unknown = error_from_dict({"error": {"message": "boom", "code": "invalid_api_key"}})
    assert type(unknown) is OlympusError and unknown.message == "boom"


def test_an_upload_waits_for_a_service_that_is_still_starting(monkeypatch):
    """An upload made while the service still opens the library is held, with a progress line
    saying so, and goes through once the service answers (it used to fail at once)."""
    import httpx

    import src.service.client as sc

    monkeypatch.setattr(sc, "POLL_S", 0.0)
    calls = {"post": 0}
    job = {
        "id": 1,
        "stage": "done",
        "done": 1,
        "total": 1,
        "message": "Added a.pdf",
        "state": "added",
        "doc_id": "d1",
        "pages": 1,
        "chunks": 1,
        "hint": "",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            calls["post"] += 1
            if calls["post"] < 3:
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(200, json={"job": job})
        return httpx.Response(200, json={"data": []})

    client = httpx.Client(base_url="http://svc", transport=httpx.MockTransport(handler))
    seen = []
    result = sc.RemotePipeline("http://svc", "t", client=client).ingest_bytes(
        b"%PDF-1.7", "a.pdf", progress=seen.append
    )
    assert calls["post"] == 3 and result.doc.id == "d1"
    assert any("waiting for the document library" in p.message for p in seen)
