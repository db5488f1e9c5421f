"""Several askers at once, for real: SmolLM2 on in-process llama.cpp with three slots, the
API under uvicorn, the official ``openai`` client. Answers run in parallel on the engine, a
question beyond the slots is told its place, a full line answers 429 with Retry-After, and a
fallback says why. No wall-clock assertions: the line is filled by holding slots directly."""

from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from shared_utils.generation.extractive import FOLLOWING_HEADING
from src.settings import load_settings
from tests.api.conftest import QUESTION, ThreadedServer
from tests.fixtures.pdfs import make_text_pdf
from tests.integration.test_answer import PAGES, _free_port

pytestmark = pytest.mark.slow

SLOTS, WAITING = 3, 2


@pytest.fixture(scope="module")
def busy_service(tmp_path_factory, embedder):
    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.access.keys import KeyStore
    from src.api.app import build_app
    from src.library.jobs import IngestQueue
    from src.models.model_files import bundled_gguf
    from src.pipeline import RAGPipeline

    data = tmp_path_factory.mktemp("busy-data")
    pdf = tmp_path_factory.mktemp("busy-pdf") / "power-manual.pdf"
    pdf.write_bytes(make_text_pdf(PAGES))
    with LlamaCppEngine(bundled_gguf(), port=0, ctx=2048, parallel=SLOTS) as engine:
        engine.wait_ready(120)
        settings = load_settings(
            data_dir=data,
            llamacpp_port=engine.port,
            backends="llamacpp,extractive",
            context_tokens=2048,
            max_answer_tokens=24,
            first_token_timeout_s=300.0,
            tiny_model_answers="model",
            parallel_answers=SLOTS,
            answer_queue=WAITING,
        )
        pipeline = RAGPipeline.from_settings(settings)
        pipeline.ingest_file(pdf)
        keys = KeyStore(data)
        _, key = keys.create("tests")
        app = build_app(
            pipeline,
            keys=keys,
            service_token="service-token-for-tests",
            queue=IngestQueue.from_settings(settings),
            max_upload_mb=10,
        )
        port = _free_port()
        with ThreadedServer(app, port):
            yield {
                "url": f"http://127.0.0.1:{port}",
                "key": key,
                "pipeline": pipeline,
                "settings": settings,
            }
        pipeline.close()


def _client(svc) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{svc['url']}/v1", api_key=svc["key"], max_retries=0, timeout=600
    )


def _line(svc):
    return svc["pipeline"]._answerer.queue


def _ask_streamed(svc, user: str = "") -> list:
    extra = {"user": user} if user else {}
    return list(
        _client(svc).chat.completions.create(
            model="olympus", stream=True, messages=[{"role": "user", "content": QUESTION}], **extra
        )
    )


def test_concurrent_streams_all_complete_from_the_engine(busy_service):
    assert _line(busy_service).slots == SLOTS
    with ThreadPoolExecutor(SLOTS) as pool:
        runs = list(pool.map(lambda _: _ask_streamed(busy_service), range(SLOTS)))
    for chunks in runs:
        final = chunks[-1].model_extra["olympus"]
        assert final["backend_name"] == "llamacpp", final.get("fallback_note")
        assert final["fallback_note"] == "" and not final["skipped"]
        assert "".join(c.choices[0].delta.content or "" for c in chunks).strip()
    metrics = httpx.get(
        f"{busy_service['url']}/api/metrics",
        headers={"authorization": f"Bearer {busy_service['key']}"},
    ).text
    assert 'olympus_answers_total{backend="llamacpp"}' in metrics


def test_a_question_beyond_the_slots_is_told_its_place_then_answered(busy_service):
    line = _line(busy_service)
    held = [line.enter("someone-else") for _ in range(SLOTS)]  # every slot busy
    chunks: queue.Queue = queue.Queue()

    def ask() -> None:
        try:
            stream = _client(busy_service).chat.completions.create(
                model="olympus", stream=True, messages=[{"role": "user", "content": QUESTION}]
            )
            for chunk in stream:  # the stock client parses the place-in-line chunks
                chunks.put(chunk)
        finally:
            chunks.put(None)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        first_place = None
        while first_place is None:
            chunk = chunks.get(timeout=300)
            assert chunk is not None, "the stream ended while every slot was held"
            first_place = (chunk.model_extra.get("olympus") or {}).get("queue")
        assert first_place["position"] == 1 and first_place["message"].startswith("1st in line")
        assert chunk.choices[0].delta.content is None  # nothing a client would print
    finally:
        for ticket in held:
            ticket.release()
    asker.join(600)
    rest = []
    while (chunk := chunks.get(timeout=5)) is not None:
        rest.append(chunk)
    final = rest[-1].model_extra["olympus"]
    assert final["backend_name"] == "llamacpp" and final["timings"]["queue_ms"] > 0


def test_a_full_line_answers_429_with_retry_after_at_once(busy_service):
    line = _line(busy_service)
    held = [line.enter(f"hog-{i}") for i in range(SLOTS + WAITING)]
    try:
        assert sum(t.granted for t in held) == SLOTS
        with pytest.raises(openai.RateLimitError) as refused:
            _client(busy_service).chat.completions.create(
                model="olympus", messages=[{"role": "user", "content": QUESTION}]
            )
        response = refused.value.response
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["code"] == "AnswerQueueFull"
        native = httpx.post(
            f"{busy_service['url']}/api/ask",
            json={"question": QUESTION},
            headers={"authorization": f"Bearer {busy_service['key']}"},
        )
        assert native.status_code == 429 and "retry-after" in native.headers
        assert "Too many questions at once" in native.json()["error"]["message"]
    finally:
        for ticket in held:
            ticket.release()
    metrics = httpx.get(
        f"{busy_service['url']}/api/metrics",
        headers={"authorization": f"Bearer {busy_service['key']}"},
    ).text
    assert "olympus_answer_queue_rejections_total 2.0" in metrics


def test_a_fallback_says_why_in_the_answer_and_its_note(busy_service):
    from src.answer.answerer import Answerer

    hurried = busy_service["settings"].model_copy(update={"first_token_timeout_s": 0.001})
    answerer = Answerer.from_settings(hurried, library=busy_service["pipeline"].library)
    done = list(answerer.ask(QUESTION))[-1]
    assert done.backend_name == "extractive"
    assert "no first token within 0.001 s" in done.fallback_note
    # SmolLM2 writes after the evidence (a small model): the line saying why follows it
    assert done.answer.startswith(FOLLOWING_HEADING)
    assert "did not answer: no first token" in done.answer
    assert done.skipped["llamacpp"].startswith("no first token")


def test_the_live_route_streams_a_small_models_evidence_first_as_its_answer(busy_service):
    """``/api/ask`` (what the UI reads): SmolLM2 is a small model, so the evidence is the first
    token event, before the status that the model is asked; the done answer is the stream."""
    with httpx.stream(
        "POST",
        f"{busy_service['url']}/api/ask",
        json={"question": QUESTION},
        headers={"authorization": f"Bearer {busy_service['key']}"},
        timeout=600,
    ) as response:
        events = [json.loads(line) for line in response.iter_lines() if line.strip()]
    kinds = [e["type"] for e in events]
    asked = next(i for i, e in enumerate(events) if "adds" in e.get("message", ""))
    assert (
        kinds.index("token") < asked and FOLLOWING_HEADING in events[kinds.index("token")]["text"]
    )
    done = events[-1]
    assert done["type"] == "done" and done["backend_name"] == "llamacpp"
    assert "".join(e["text"] for e in events if e["type"] == "token") == done["answer"]
    assert done["timings"]["first_text_ms"] < done["timings"]["first_token_ms"]
