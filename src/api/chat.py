"""OpenAI-compatible ``POST /v1/chat/completions``, ``GET /v1/models`` and
``GET /v1/models/{id}``.

The last user message is the question; earlier user/assistant pairs are the history; system
messages are ignored (Olympus writes its own prompt). ``model`` is ``olympus`` (the default
chain), a backend name (``llamacpp``, ``ollama``, ``hf_inference``, ``extractive``) or the
model a backend serves. A response's ``model`` names what produced the answer (``named``):
the engine's model, or ``source extracts (why)``. Which request fields are honoured, refused or ignored:
``src/api/chat_request.py``. A document filter goes in ``olympus.doc_ids`` of the request
(``extra_body`` in the SDK).

One answer whichever way it is fetched: Olympus checks the answer after the model is done
(citations fixed, unsupported claims handled, a small model's additions after the evidence), so a
stream sends the *checked* text, in word-sized deltas, once the check is done; while the
model writes, the stream carries SSE comments (status lines, ignored by clients) that keep the
connection alive, and a question waiting for a free slot gets empty-delta chunks with its
place in line in ``olympus.queue``. The concatenated deltas equal the non-streamed ``content``; the last chunk
carries ``citations`` and ``olympus`` (the final event), then a usage chunk when
``stream_options.include_usage`` is set. ``/api/ask`` streams the answer as it is made (a
small model's: the evidence at once, then what it adds; docs/api.md).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared_utils.errors import ModelNotFound, OlympusError
from shared_utils.generation.registry import BACKENDS
from src.answer.answering import EXTRACTS
from src.api.chat_request import ChatRequest, read_request
from src.api.errors import error_dict
from src.api.library_routes import asking, json_body, known_doc_ids, observe_events, owner_of
from src.api.metrics import Metrics
from src.events import BackendSwitchEvent, DoneEvent, QueueEvent, StatusEvent
from src.protocols import Pipeline
from src.service.wire import cited_passages, done_to_dict, queue_to_dict

DEFAULT_MODEL = "olympus"
KEEP_ALIVE_S = 5.0  # an SSE comment at least this often while the answer is being written
_PIECE = re.compile(r"\S+\s*|\s+")


def structured_citations(done: DoneEvent) -> list[dict[str, Any]]:
    """Each citation with the passage it points at."""
    return [c.model_dump() for c in cited_passages(done)]


def named(done: DoneEvent) -> str:
    """A response's ``model``: what produced the answer (the engine's model, or the source
    extracts and why: ``src/answer/answering.py``); ``olympus`` when nothing did (no match, abstained)."""
    return done.answered_by or DEFAULT_MODEL


def finish_reason(done: DoneEvent) -> str:
    """ "length" when the token cap (or a failure mid-answer) cut the model's answer."""
    return "length" if done.timings.get("length_cut") or done.interrupted else "stop"


def usage(done: DoneEvent) -> dict[str, int]:
    """The engine's own token counts; 0 for an answer no engine wrote (the extract)."""
    completion = int(done.timings.get("completion_tokens", 0))
    prompt = done.prompt_tokens if "completion_tokens" in done.timings else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def pieces(text: str) -> list[str]:
    """``text`` in word-sized deltas whose concatenation is ``text`` exactly.

    >>> pieces("Port 3493 [1].  Yes")
    ['Port ', '3493 ', '[1].  ', 'Yes']
    """
    return _PIECE.findall(text)


class ChatRoutes:
    def __init__(self, pipeline: Pipeline, metrics: Metrics, *, max_tokens_cap: int) -> None:
        self.pipeline = pipeline
        self.metrics = metrics
        self.max_tokens_cap = max_tokens_cap
        self.started = int(time.time())  # `created` of the models: when this service started

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self.completions, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", self.model, methods=["GET"]),
        ]

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

    def _model_object(self, model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": self.started, "owned_by": "olympus"}

    async def models(self, _request: Request) -> Response:
        ids = await run_in_threadpool(self._catalogue)
        return JSONResponse({"object": "list", "data": [self._model_object(m) for m in ids]})

    async def model(self, request: Request) -> Response:
        model_id = request.path_params["model_id"]
        await run_in_threadpool(self._backend, model_id)  # ModelNotFound (404) lists the ids
        return JSONResponse(self._model_object(model_id))

    def _backend(self, model: str) -> str | None:
        if model in ("", DEFAULT_MODEL):
            return None
        if model.startswith(EXTRACTS):  # a response's `model` sent back: the extracts
            return "extractive"
        ids = self._catalogue()
        if model in ids:
            return ids[model]
        if model in BACKENDS:
            return model
        raise ModelNotFound(
            f"The model {model!r} does not exist here.",
            hint=f"Use one of: {', '.join(ids)} (GET /v1/models).",
        )

    async def completions(self, request: Request) -> Response:
        chat = read_request(await json_body(request), max_tokens_cap=self.max_tokens_cap)
        backend = await run_in_threadpool(self._backend, chat.model)
        doc_ids = await run_in_threadpool(known_doc_ids, self.pipeline, chat.doc_ids)
        events = await asking(
            self.metrics,
            self.pipeline.ask,
            chat.question,
            history=chat.history,
            doc_ids=doc_ids,
            backend=backend,
            options=chat.options,
            owner=owner_of(request, chat.user),
        )
        events = observe_events(events, self.metrics)
        reply = Reply(chat)
        if chat.stream and backend is None:  # what queue chunks name, before the answer says
            reply.expected = (await run_in_threadpool(self.pipeline.answering)).name
        headers = {"x-olympus-ignored": ",".join(chat.ignored)} if chat.ignored else {}
        if chat.stream:
            return StreamingResponse(
                reply.stream(events),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache", **headers},
            )
        done = await run_in_threadpool(_last, events)
        return JSONResponse(reply.completion(done), headers=headers)


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

    def __init__(self, chat: ChatRequest) -> None:
        self.id = "chatcmpl-" + secrets.token_hex(12)
        self.created = int(time.time())
        self.chat = chat
        self.expected = chat.model or DEFAULT_MODEL  # the model named before the answer is done

    def _base(self, kind: str, done: DoneEvent | None) -> dict[str, Any]:
        model = named(done) if done is not None else self.expected
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": model,
            "system_fingerprint": None,
        }

    def _extra(self, done: DoneEvent) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "citations": structured_citations(done),
            "olympus": done_to_dict(done),
        }
        if self.chat.ignored:
            extra["ignored"] = list(self.chat.ignored)
        return extra

    def completion(self, done: DoneEvent) -> dict[str, Any]:
        return {
            **self._base("chat.completion", done),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish_reason(done),
                    "logprobs": None,
                    "message": {"role": "assistant", "content": done.answer},
                }
            ],
            "usage": usage(done),
            **self._extra(done),
        }

    def _chunk(
        self,
        done: DoneEvent | None,
        delta: dict[str, Any] | None,
        finish: str | None = None,
        **extra: Any,
    ) -> str:
        choices = (
            []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        )
        chunk = {**self._base("chat.completion.chunk", done), "choices": choices, **extra}
        if self.chat.include_usage and "usage" not in chunk:
            chunk["usage"] = None
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    def _answer_chunks(self, done: DoneEvent) -> Iterator[str]:
        yield self._chunk(done, {"role": "assistant", "content": ""})
        for piece in pieces(done.answer):
            yield self._chunk(done, {"content": piece})
        yield self._chunk(done, {}, finish_reason(done), **self._extra(done))
        if self.chat.include_usage:
            yield self._chunk(done, None, usage=usage(done))

    async def stream(self, events: Iterator[Any]) -> AsyncIterator[str]:
        last_write, answered = time.monotonic(), False
        try:
            async for event in iterate_in_threadpool(events):
                if isinstance(event, DoneEvent):
                    answered = True
                    for chunk in self._answer_chunks(event):
                        yield chunk
                elif isinstance(event, QueueEvent):  # an empty delta: stock clients skip it
                    yield self._chunk(None, {}, olympus={"queue": queue_to_dict(event)})
                    last_write = time.monotonic()
                elif isinstance(event, (StatusEvent, BackendSwitchEvent)):
                    yield f": {_comment(event)}\n\n"
                    last_write = time.monotonic()
                elif time.monotonic() - last_write > KEEP_ALIVE_S:
                    yield ": writing the answer\n\n"
                    last_write = time.monotonic()
            if not answered:
                raise OlympusError("The answer ended without a result.", hint="Ask again.")
        except OlympusError as exc:
            yield f"data: {json.dumps(error_dict(exc)[1], ensure_ascii=False)}\n\n"
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                await run_in_threadpool(close)
        yield "data: [DONE]\n\n"


def _comment(event: StatusEvent | BackendSwitchEvent) -> str:
    text = (
        event.message
        if isinstance(event, StatusEvent)
        else f"switching from {event.from_backend} to {event.to_backend}: {event.reason}"
    )
    return " ".join(text.split())
