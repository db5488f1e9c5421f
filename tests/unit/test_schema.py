"""The typed schema (``src/schema/``): every shape that crosses a process or the disk has one
model, the in-process objects carry the same fields, and what an older Olympus wrote (a saved
chat, a status.json) still loads."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import ValidationError

from shared_utils.types import DocumentRecord
from src.chat_store import ChatStore
from src.events import Citation, DoneEvent
from src.library.jobs import IngestJob
from src.schema import answer, library
from src.service.wire import (
    document_from_dict,
    document_to_dict,
    done_from_dict,
    done_to_dict,
)
from src.status import StatusFile
from tests.fixtures.sources import SOURCE


def test_the_answer_on_the_wire_has_every_field_of_the_done_event():
    """A field added to DoneEvent and not to the schema (or the other way) fails here, not
    in a client that silently loses it."""
    assert {f.name for f in dataclasses.fields(DoneEvent)} == set(answer.Answer.model_fields)


def test_an_answer_comes_back_whole_and_an_old_one_gets_the_defaults():
    done = DoneEvent(
        answer="Port 3493 [1].",
        backend="extractive",
        citations=[Citation(1, "abc", "manual.pdf", 3, 4)],
        sources=[SOURCE],
        timings={"total_ms": 12.345},
        unsupported=["x"],
        supported_share=0.5,
        chain=("llamacpp", "extractive"),
        removed_citations=[2],
    )
    sent = done_to_dict(done)
    assert sent["timings"] == {"total_ms": 12.35}  # rounded on the wire, as before
    back = done_from_dict(json.loads(json.dumps(sent)))
    assert back == dataclasses.replace(done, timings={"total_ms": 12.35})
    old = done_from_dict(
        {"answer": "a", "backend": "b", "citations": [], "sources": [], "timings": {}}
    )  # before mode, chain and the claim checks existed
    assert old.mode == "" and old.chain == () and old.supported_share is None


def test_a_malformed_event_is_refused_in_words():
    with pytest.raises(ValidationError, match="page_start"):
        done_from_dict(
            {
                "answer": "a",
                "backend": "b",
                "sources": [
                    {"number": 1, "doc_id": "x", "page_start": "three", "page_end": 3, "text": "t"}
                ],
            }
        )


def test_a_document_has_one_shape_with_what_is_stored():
    record = DocumentRecord(
        id="abc",
        name="manual.pdf",
        pages=4,
        chunks=9,
        size_bytes=1000,
        added_at=1.7e9,
        status="ready",
        parse_report={"text_pages": 4},
    )
    sent = document_to_dict(record, stored_bytes=1200)
    assert set(sent) == set(library.Document.model_fields)
    assert sent["stored_bytes"] == 1200 and sent["added_at"] == 1.7e9
    assert document_from_dict(sent) == record


def test_a_job_on_the_wire_has_every_field_but_its_owner():
    from src.api.library_routes import job_to_dict

    job = IngestJob(id=3, name="a.pdf", size_bytes=10, owner="key-1", state="running")
    sent = job_to_dict(job)
    assert set(sent) == set(IngestJob.model_fields) - {"owner"} == set(library.Job.model_fields)
    assert sent["state"] == "running" and "key-1" not in json.dumps(sent)


# what the chat store wrote before the schema: json.dumps with its default separators
OLD_CHAT = {
    "id": "old-chat-01",
    "title": "",
    "created_at": 1.7e9,
    "updated_at": 1.7e9 + 5,
    "settings": {"model": "llamacpp", "temperature": 0.2},
    "messages": [
        {"role": "user", "content": "Which port does upsd use?"},
        {
            "role": "assistant",
            "content": "Port 3493 [1].",
            "question": "Which port does upsd use?",
            "sources": [
                {
                    "chunk": dataclasses.asdict(SOURCE.chunk),
                    "score": 0.03,
                    "ranks": {"dense": 1, "bm25": 2},
                    "similarity": 0.6,
                }
            ],
            "switches": [{"from": "ollama", "to": "llamacpp", "reason": "down"}],
            "skipped": {},
            "backend": "llama.cpp (local)",
            "timings": {"total_ms": 900.0},
            "backend_name": "llamacpp",
            "interrupted": False,
            "interrupt_reason": "",
            "a_field_of_a_newer_version": [1, 2],
        },
        {"role": "user", "content": "And the config file?"},
        {
            "role": "assistant",
            "content": "It is in",
            "question": "And the config file?",
            "sources": [],
            "switches": [],
            "skipped": {},
            "backend": "",
            "timings": {},
            "streaming": True,
        },
    ],
}


def test_an_old_saved_chat_loads_and_saves_back_without_losing_anything(tmp_path):
    store = ChatStore(tmp_path, "browser-1", max_chats=10, max_bytes=1_000_000)
    store.dir.mkdir(parents=True)
    (store.dir / "old-chat-01.json").write_text(json.dumps(OLD_CHAT))
    chat = store.load("old-chat-01")
    first = chat["messages"][1]
    assert first["sources"] == [SOURCE]  # the passage, text included, for the sources panel
    assert first["a_field_of_a_newer_version"] == [1, 2]
    assert "streaming" not in chat["messages"][3]  # died mid-answer: shown as stopped
    store.save(chat)
    again = store.load("old-chat-01")
    assert again["messages"] == chat["messages"] and again["settings"] == OLD_CHAT["settings"]
    assert store.list()[0]["title"] == "Which port does upsd use?"


def test_a_chat_message_of_the_wrong_shape_is_refused_before_it_is_written(tmp_path):
    store = ChatStore(tmp_path, "browser-1", max_chats=10, max_bytes=1_000_000)
    with pytest.raises(ValueError, match="role"):
        store.save({"id": "chat-0001", "messages": [{"role": "robot", "content": "hi"}]})
    assert not store.dir.exists() or not list(store.dir.iterdir())


OLD_STATUS = {
    "supervisor": {"pid": 42, "started": 1.7e9, "state": "running", "updated_at": 1.7e9},
    "api": {
        "state": "ready",
        "url": "http://127.0.0.1:8502",
        "pid": 43,
        "restarts": 0,
        "last_error": "",
        "ready_after_s": 3.2,
        "updated_at": 1.7e9 + 4,
    },
    "engine": {
        "engine": "llamacpp",
        "state": "ready",
        "model": "/models/qwen.gguf",
        "pid": "not-a-pid",
        "updated_at": 1.7e9,
    },
    "provisioning": {
        "phase": "ready",
        "model": "qwen",
        "bytes": 10,
        "total": 10,
        "percent": 100.0,
        "error": "",
        "updated_at": 1.7e9,
    },
    "backends": {"an": "older section"},
}


def test_an_old_status_file_reads_typed_and_a_damaged_section_gets_its_defaults(tmp_path):
    path = tmp_path / "status.json"
    path.write_text(json.dumps(OLD_STATUS))
    status = StatusFile(path)
    typed = status.typed()
    assert typed.api.url == "http://127.0.0.1:8502" and typed.api.ready_after_s == 3.2
    assert typed.supervisor.started == 1.7e9 and typed.provisioning.phase == "ready"
    assert typed.engine.model == ""  # its pid was not a number: the section reads as defaults
    assert status.read()["backends"] == {"an": "older section"}  # untouched, still readable
    status.update("engine", state="down", last_error="crashed")  # starts the section over
    assert status.typed().engine.state == "down" and status.read()["backends"]


def test_a_status_write_of_the_wrong_type_is_refused_and_changes_nothing(tmp_path):
    status = StatusFile(tmp_path / "status.json")
    status.replace("api", state="ready", url="http://x")
    before = status.read()
    with pytest.raises(ValueError, match="restarts"):
        status.update("api", restarts="many")
    assert status.read() == before


@pytest.mark.parametrize(
    "body, error, param",
    [
        ({"question": "  "}, "InvalidQuery", None),
        ({"question": "q", "history": "earlier"}, "InvalidRequest", "history"),
        ({"question": "q", "doc_ids": "abc"}, "InvalidRequest", "doc_ids"),
        ({"question": "q", "backend": 3}, "InvalidRequest", "backend"),
        (
            {"question": "q", "options": {"temperature": "hot"}},
            "InvalidRequest",
            "options.temperature",
        ),
    ],
)
def test_an_ask_request_of_the_wrong_shape_is_refused_naming_the_field(body, error, param):
    from shared_utils.errors import OlympusError
    from src.schema.requests import AskRequest, read

    with pytest.raises(OlympusError) as info:
        read(AskRequest, body)
    assert type(info.value).__name__ == error and getattr(info.value, "param", None) == param


def test_an_ask_request_reads_back_what_the_client_writes():
    from src.answer.options import AskOptions
    from src.schema.requests import AskRequest, read

    sent = AskRequest(
        question="Which port?",
        history=[("a?", "A")],
        doc_ids=["abc"],
        options=AskOptions(model="qwen", stop=("END",)),
        session="chat-1",
    )
    wire = json.loads(json.dumps(sent.model_dump(mode="json")))
    assert wire["history"] == [["a?", "A"]] and wire["options"]["stop"] == ["END"]
    assert read(AskRequest, {**wire, "a_newer_field": 1}) == sent


def test_the_plan_the_model_picker_reads_comes_back_whole():
    from src.answer.answering import Answering
    from src.models.backends import BackendPlan
    from src.service.wire import plan_from_dict, plan_to_dict

    plan = BackendPlan(
        names=("llamacpp", "extractive"),
        models={"llamacpp": "qwen"},
        reasons=("engine llamacpp",),
        chosen_by={"llamacpp": "provisioned"},
        fallback=("qwen-7b", "not enough memory"),
    )
    answering = Answering("llamacpp", "qwen", 1.5, True, "model", label="llama.cpp (local)")
    sent = json.loads(json.dumps(plan_to_dict(plan, answering)))
    assert sent["answering"]["name"] == "qwen" and sent["chain"] == ["llamacpp", "extractive"]
    assert plan_from_dict(sent) == (plan, answering)


def test_a_citation_carries_the_text_it_points_at_and_an_out_of_range_one_none():
    from src.service.wire import cited_passages, tool_answer_to_dict

    done = DoneEvent(
        answer="Port 3493 [1][7].",
        backend="extractive",
        timings={},
        citations=[Citation(1, "abc", "manual.pdf", 3, 4), Citation(7, "abc", "manual.pdf", 9, 9)],
        sources=[SOURCE],
    )
    cited = [c.model_dump() for c in cited_passages(done)]
    assert cited[0]["text"] == "upsd uses 3493" and cited[1]["text"] == ""
    tool = tool_answer_to_dict(done, "source extracts")
    assert tool["citations"] == cited and tool["sources"][0]["chunk_id"] == "abc:000004"
    assert set(tool) == {
        "answer",
        "citations",
        "sources",
        "backend",
        "model",
        "mode",
        "error",
        "unmentioned",
    }


def test_a_report_prints_only_what_was_found():
    """``doctor --json`` and ``models list --json`` leave out what a component or record does
    not have (no ``url`` for the model, no ``path`` in an Ollama record), as before."""
    from src.schema.reports import ActiveModel, ComponentHealth, report_json

    model = ComponentHealth.model_validate({"ok": True, "model": "m", "detail": "in Ollama"})
    assert report_json(model) == {"ok": True, "model": "m", "detail": "in Ollama"}
    assert report_json(ComponentHealth(ok=False, detail="x", rows=3)) == {
        "ok": False,
        "detail": "x",
        "rows": 3,  # a store's own fields are kept
    }
    assert report_json(ActiveModel.model_validate({})) == {}
    with pytest.raises(ValidationError):
        ComponentHealth.model_validate({"detail": "no ok"})


def test_a_chat_completion_request_is_refused_as_openai_clients_expect():
    """The chat-completions body is read through its schema model: the first field at fault
    answers with its name in ``param``; a refused field is ``UnsupportedParameter``."""
    from shared_utils.errors import InvalidRequest, UnsupportedParameter
    from src.api.chat_request import FIELDS, read_request
    from src.schema.chat_completion import REFUSED, ChatCompletionRequest

    ask = [{"role": "user", "content": "What port?"}]
    with pytest.raises(UnsupportedParameter) as refused:
        read_request({"messages": ask, "top_logprobs": 2, "temperature": 9}, max_tokens_cap=64)
    assert refused.value.param == "logprobs"  # type: ignore[attr-defined]
    with pytest.raises(InvalidRequest) as missing:
        read_request({"temperature": 9}, max_tokens_cap=64)
    assert missing.value.param == "messages"  # type: ignore[attr-defined]
    # max_completion_tokens wins, and max_tokens is then not read (as before the model)
    chat = read_request(
        {"messages": ask, "max_completion_tokens": 500, "max_tokens": "x", "user": "u"},
        max_tokens_cap=64,
    )
    assert chat.options.max_tokens == 64 and chat.ignored == ("user",) and chat.user == "u"
    # the docs' table (FIELDS) and the model name the same fields
    assert set(REFUSED) == {k for k, v in FIELDS.items() if v == "refused"}
    read_by_the_model = {k for k, v in FIELDS.items() if v != "ignored"} | {"user"}
    assert set(ChatCompletionRequest.model_fields) == read_by_the_model
