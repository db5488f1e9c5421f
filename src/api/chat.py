"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

The last user message is the question; earlier user/assistant pairs are the history; system
messages are ignored (Olympus writes its own prompt). ``model`` is ``olympus`` (the default
chain), a backend name (``llamacpp``, ``ollama``, ``hf_inference``, ``extractive``) or the
model a backend serves. A response's ``model`` names what produced the answer: the engine's
model, or ``source extracts (why)``. The answer carries ``[n]`` citations in its text; the structured
citations (document, pages, passage) are in ``citations`` of the response, or of the final
chunk when streaming, and the whole final event (``src.wire.done_to_dict``) in ``olympus``.
A document filter goes in ``olympus.doc_ids`` of the request (``extra_body`` in the SDK).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared_utils.errors import InvalidQuery, ModelNotFound, OlympusError
from shared_utils.generation.registry import BACKENDS
from src.api.errors import bad_request
from src.api.library_routes import asking, doc_ids_of, json_body, observe_events, owner_of
from src.answering import EXTRACTS
from src.api.metrics import Metrics
from src.events import DoneEvent, QueueEvent, TokenEvent
from src.wire import citation_to_dict, done_to_dict, error_to_dict, queue_to_dict

DEFAULT_MODEL = "olympus"


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    return ""


def split_messages(messages: Any) -> tuple[str, list[tuple[str, str]]]:
    """(question, history) from OpenAI messages.

    >>> split_messages([{"role": "user", "content": "a?"}, {"role": "assistant", "content": "A"},
    ...                 {"role": "user", "content": "b?"}])
    ('b?', [('a?', 'A')])
    """
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list.")
    turns = [(m.get("role"), _text(m.get("content"))) for m in messages if isinstance(m, dict)]
    turns = [(role, text) for role, text in turns if role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise InvalidQuery("The last message must be a user message with the question.")
    history = [(q, a) for (r1, q), (r2, a) in zip(turns, turns[1:-1])
               if r1 == "user" and r2 == "assistant" and q.strip() and a.strip()]
    return turns[-1][1], history


def structured_citations(done: DoneEvent) -> list[dict[str, Any]]:
    """Each citation with the passage it points at."""
    out = []
    for c in done.citations:
        source = done.sources[c.number - 1] if 0 < c.number <= len(done.sources) else None
        out.append({**citation_to_dict(c), "text": source.chunk.text if source else ""})
    return out


class ChatRoutes:
    def __init__(self, pipeline: Any, metrics: Metrics) -> None:
        self.pipeline = pipeline
        self.metrics = metrics

    def routes(self) -> list[Route]:
        return [Route("/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"])]

    def _catalogue(self) -> dict[str, str | None]:
        """Model id -> backend to force (None: the default chain)."""
        plan = self.pipeline.backends()
        ids: dict[str, str | None] = {DEFAULT_MODEL: None}
        answering = self.pipeline.answering()  # the engine's own name for its model
        if answering.model and answering.backend:
            ids.setdefault(answering.model, answering.backend)
        for name in plan.names:
            ids.setdefault(name, name)
            if plan.model(name):
                ids.setdefault(plan.model(name), name)
        return ids

    async def models(self, _request: Request) -> Response:
        ids = await run_in_threadpool(self._catalogue)
        return JSONResponse({"object": "list", "data": [
            {"id": mid, "object": "model", "created": 0, "owned_by": "olympus"} for mid in ids]})

    def _backend(self, model: Any) -> str | None:
        if model in (None, "", DEFAULT_MODEL):
            return None
        if str(model).startswith(EXTRACTS):  # a response's `model` sent back: the extracts
            return "extractive"
        ids = self._catalogue()
        if model in ids:
            return ids[model]
        if model in BACKENDS:
            return model
        raise ModelNotFound(f"The model {model!r} does not exist here.",
                            hint=f"Use one of: {', '.join(ids)} (GET /v1/models).")

    async def completions(self, request: Request) -> Response:
        body = await json_body(request)
        question, history = split_messages(body.get("messages"))
        extra = body.get("olympus") if isinstance(body.get("olympus"), dict) else {}
        backend = await run_in_threadpool(self._backend, body.get("model"))
        events = await asking(
            self.metrics, self.pipeline.ask, question, history=history,
            doc_ids=doc_ids_of(extra), backend=backend, owner=owner_of(request, body.get("user")))
        events = observe_events(events, self.metrics)
        reply = Reply(body.get("model") or DEFAULT_MODEL)
        if body.get("stream"):
            # the chunks before the last name what is expected to answer; the last one what did
            if backend is None:
                reply.model = (await run_in_threadpool(self.pipeline.answering)).name
            return StreamingResponse(reply.stream(events), media_type="text/event-stream",
                                     headers={"cache-control": "no-cache"})
        done = await run_in_threadpool(_last, events)
        return JSONResponse(reply.completion(done))


def named(done: DoneEvent) -> str:
    """A response's ``model``: what produced the answer (the engine's model, or the source
    extracts and why: ``src/answering.py``); ``olympus`` when nothing did (no match, abstained)."""
    return done.answered_by or DEFAULT_MODEL


def _last(events: Iterator[Any]) -> DoneEvent:
    done = None
    for event in events:
        if isinstance(event, DoneEvent):
            done = event
    if done is None:
        raise OlympusError("The answer ended without a result.", hint="Ask again.")
    return done


class Reply:
    """The OpenAI objects of one answer."""

    def __init__(self, model: str) -> None:
        self.id = "chatcmpl-" + secrets.token_hex(12)
        self.created = int(time.time())
        self.model = model

    def _base(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def _extra(self, done: DoneEvent) -> dict[str, Any]:
        return {"citations": structured_citations(done), "olympus": done_to_dict(done)}

    def completion(self, done: DoneEvent) -> dict[str, Any]:
        self.model = named(done)
        finish = "length" if done.interrupted else "stop"
        completion_tokens = max(1, len(done.answer) // 4) if done.answer else 0
        return {**self._base("chat.completion"),
                "choices": [{"index": 0, "finish_reason": finish,
                             "message": {"role": "assistant", "content": done.answer}}],
                "usage": {"prompt_tokens": done.prompt_tokens,
                          "completion_tokens": completion_tokens,
                          "total_tokens": done.prompt_tokens + completion_tokens},
                **self._extra(done)}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None,
               **extra: Any) -> str:
        chunk = {**self._base("chat.completion.chunk"),
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    async def stream(self, events: Iterator[Any]) -> AsyncIterator[str]:
        yield self._chunk({"role": "assistant", "content": ""})
        streamed = ""
        try:
            async for event in iterate_in_threadpool(events):
                if isinstance(event, TokenEvent) and event.text:
                    streamed += event.text
                    yield self._chunk({"content": event.text})
                elif isinstance(event, QueueEvent):  # an empty delta: stock clients skip it
                    yield self._chunk({}, olympus={"queue": queue_to_dict(event)})
                elif isinstance(event, DoneEvent):
                    # the checked answer can differ from the streamed tokens (citations fixed,
                    # a tiny model's extract): send what was not streamed yet
                    if event.answer != streamed and event.answer.startswith(streamed):
                        yield self._chunk({"content": event.answer[len(streamed):]})
                    self.model = named(event)
                    yield self._chunk({}, "length" if event.interrupted else "stop",
                                      **self._extra(event))
        except OlympusError as exc:
            yield f"data: {json.dumps(error_to_dict(exc, kind='server_error'))}\n\n"
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                await run_in_threadpool(close)
        yield "data: [DONE]\n\n"
