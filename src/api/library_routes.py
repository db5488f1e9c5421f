"""Search, documents, upload jobs, health and backends over the process's one pipeline.

Every pipeline call blocks (embedding, stores), so it runs in the thread pool; the event
loop stays free for other requests and for streams.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared_utils.errors import (
    AnswerQueueFull, DocumentNotFound, FileTooLarge, JobNotFound, OlympusError,
    UnsupportedMediaType)
from src.api.errors import bad_request, error_dict
from src.api.limits import check_k, parse_json
from src.api.metrics import Metrics, fallback_reason
from src.answer.options import AskOptions
from src.answer.question import check_question
from src.events import BackendSwitchEvent, DoneEvent
from src.library.jobs import IngestJob, IngestQueue
from src.service.wire import document_to_dict, event_to_dict, search_to_dict

MB = 1024 * 1024
PDF_MAGIC = b"%PDF-"  # within the first 1024 bytes, as PDF readers accept it


def job_to_dict(job: IngestJob) -> dict[str, Any]:
    """An upload job as the API shows it (who owns it is not shown)."""
    d = asdict(job)
    d.pop("owner", None)
    return d


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (its size is bounded by ``src.api.limits.BodyLimit``)."""
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def ask_options(raw: Any) -> AskOptions | None:
    """A question's ``AskOptions`` from its JSON (a chat's model, temperature, length)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("options must be an object.")
    if isinstance(raw.get("stop"), list):
        raw = {**raw, "stop": tuple(raw["stop"])}
    try:
        options = AskOptions(**{k: v for k, v in raw.items() if v is not None})
    except TypeError as exc:
        raise bad_request(f"options: {exc}", param="options") from exc
    kinds: dict[str, type | tuple[type, ...]] = {
        "model": str, "backend": str, "temperature": (int, float), "max_tokens": int}
    for name, kind in kinds.items():
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise bad_request(f"options.{name} has the wrong type ({type(value).__name__}).",
                              param=f"options.{name}")
    return options


def doc_ids_of(body: dict[str, Any]) -> list[str] | None:
    ids = body.get("doc_ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad_request("doc_ids must be a list of document ids.", param="doc_ids")
    return ids or None


def known_doc_ids(pipeline: Any, ids: list[str] | None) -> list[str] | None:
    """``ids`` when every one is a document of the library, else DocumentNotFound (404)."""
    if not ids:
        return ids
    unknown = sorted(set(ids) - {d.id for d in pipeline.documents()})
    if unknown:
        raise DocumentNotFound(f"No document has the id {', '.join(map(repr, unknown))}.",
                               hint="List the documents with GET /v1/documents.")
    return ids


def history_of(raw: Any) -> list[tuple[str, str]]:
    """``[[question, answer], ...]`` as pairs, refusing anything else with 400."""
    raw = raw or []
    ok = isinstance(raw, list) and all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in raw)
    if not ok:
        raise bad_request("history must be a list of [question, answer] pairs.", param="history")
    return [(q, a) for q, a in raw]


def owner_of(request: Request, session: Any) -> str:
    """Who asks, for the fair line: the API key; the UI (the service token) names its chat
    session (``session`` in /api/ask, ``user`` in /v1/chat/completions)."""
    caller = str(request.scope.get("state", {}).get("caller") or "anonymous")
    if caller == "service" and isinstance(session, str) and session:
        return f"service:{session[:64]}"
    return caller


async def asking(metrics: Metrics, ask: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    """``ask`` in the thread pool; a full line is counted, then answered with 429."""
    try:
        return await run_in_threadpool(ask, *args, **kwargs)
    except AnswerQueueFull:
        metrics.queue_rejections.inc()
        raise


class Measured:
    """The pipeline as the upload queue sees it: each ingest is timed for the metrics."""

    def __init__(self, pipeline: Any, metrics: Metrics) -> None:
        self.pipeline = pipeline
        self.metrics = metrics

    def ingest_bytes(self, data: bytes, name: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = self.pipeline.ingest_bytes(data, name, **kwargs)
        if result.status == "added":
            self.metrics.ingested(result.doc.pages, time.perf_counter() - started)
        return result


def observe_events(events: Iterator[Any], metrics: Metrics) -> Iterator[Any]:
    """Pass ``events`` through, recording first-token time, answers, backend switches,
    fallbacks by reason and waits for an engine slot."""
    for event in events:
        if isinstance(event, BackendSwitchEvent):
            metrics.switches.labels(event.from_backend, event.to_backend).inc()
            metrics.fallbacks.labels(fallback_reason(event.reason)).inc()
        elif isinstance(event, DoneEvent):
            name = event.backend_name or "none"
            metrics.answers.labels(name).inc()
            if event.timings.get("queue_ms"):
                metrics.queue_waits.observe(event.timings["queue_ms"] / 1000)
            if "first_token_ms" in event.timings:
                metrics.first_token.labels(name).observe(event.timings["first_token_ms"] / 1000)
        yield event


class LibraryRoutes:
    def __init__(self, pipeline: Any, queue: IngestQueue, metrics: Metrics,
                 max_upload_mb: int) -> None:
        self.pipeline = pipeline
        self.queue = queue
        self.metrics = metrics
        self.max_upload_mb = max_upload_mb

    def routes(self) -> list[Route]:
        return [
            Route("/v1/search", self.search, methods=["POST"]),
            Route("/v1/documents", self.documents, methods=["GET"]),
            Route("/v1/documents", self.upload, methods=["POST"]),
            Route("/v1/documents/{doc_id}", self.delete, methods=["DELETE"]),
            Route("/v1/jobs", self.jobs, methods=["GET"]),
            Route("/v1/jobs/{job_id:int}", self.job, methods=["GET"]),
            Route("/v1/jobs/{job_id:int}", self.cancel, methods=["DELETE"]),
            Route("/v1/health", self.health, methods=["GET"]),
            Route("/api/backends", self.backends, methods=["GET"]),
            Route("/api/ask", self.ask, methods=["POST"]),
        ]

    async def search(self, request: Request) -> Response:
        body = await json_body(request)
        query = check_question(body.get("query"), what="search query")
        k = check_k(body.get("k"))
        doc_ids = await run_in_threadpool(known_doc_ids, self.pipeline, doc_ids_of(body))
        result = await run_in_threadpool(self.pipeline.search, query, k=k, doc_ids=doc_ids)
        return JSONResponse(search_to_dict(result))

    async def documents(self, _request: Request) -> Response:
        docs = await run_in_threadpool(self.pipeline.documents)
        return JSONResponse({"object": "list", "data": [document_to_dict(d) for d in docs]})

    async def upload(self, request: Request) -> Response:
        """Read the PDF (``BodyLimit`` stops a body past the limit as it arrives), refuse what
        is not a PDF at once (415), queue the rest (202 and the job to follow)."""
        async with request.form() as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise bad_request("No file in the upload.",
                                  "Send the PDF as multipart form field 'file' "
                                  "(curl -F file=@paper.pdf).")
            data = await upload.read()
            name = upload.filename or "upload.pdf"
            owner = owner_of(request, form.get("session"))
        if len(data) > self.max_upload_mb * MB:
            raise FileTooLarge(f"{name} is {len(data) / MB:.1f} MB; the limit is "
                               f"{self.max_upload_mb} MB.")
        if PDF_MAGIC not in data[:1024]:
            raise UnsupportedMediaType(f"{name} is not a PDF (it does not start with %PDF-).")
        job_id = self.queue.submit(Measured(self.pipeline, self.metrics), name, data,
                                   owner=owner)
        return JSONResponse({"job": job_to_dict(self._job(job_id, owner))}, status_code=202)

    def _job(self, job_id: int, owner: str) -> IngestJob:
        for job in self.queue.jobs(owner):
            if job.id == job_id:
                return job
        raise JobNotFound(f"There is no upload job {job_id} of this key.")

    async def jobs(self, request: Request) -> Response:
        """The caller's kept upload jobs (the UI names its browser session), oldest first."""
        owner = owner_of(request, request.query_params.get("session"))
        return JSONResponse({"object": "list",
                             "data": [job_to_dict(j) for j in self.queue.jobs(owner)]})

    async def job(self, request: Request) -> Response:
        owner = owner_of(request, request.query_params.get("session"))
        job = self._job(request.path_params["job_id"], owner)
        return JSONResponse({"job": job_to_dict(job)}, status_code=200)

    async def cancel(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        owner = owner_of(request, request.query_params.get("session"))
        cancelled = self.queue.cancel(job_id, owner=owner)
        return JSONResponse({"job": job_to_dict(self._job(job_id, owner)),
                             "cancelled": cancelled})

    async def delete(self, request: Request) -> Response:
        record = await run_in_threadpool(self.pipeline.delete_document,
                                         request.path_params["doc_id"])
        return JSONResponse({"deleted": document_to_dict(record)})

    async def health(self, _request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.pipeline.health))

    async def backends(self, _request: Request) -> Response:
        plan = await run_in_threadpool(self.pipeline.backends)
        answering = await run_in_threadpool(self.pipeline.answering)
        return JSONResponse({**plan.as_dict(), "answering": answering.as_dict()})

    async def ask(self, request: Request) -> Response:
        """The pipeline's own event stream, one JSON object per line (the remote client's)."""
        body = await json_body(request)
        question = check_question(body.get("question"))
        history = history_of(body.get("history"))
        doc_ids = await run_in_threadpool(known_doc_ids, self.pipeline, doc_ids_of(body))
        backend = body.get("backend") or None
        if backend is not None and not isinstance(backend, str):
            raise bad_request("backend must be a backend name.", param="backend")
        events = await asking(
            self.metrics, self.pipeline.ask, question, history=history, doc_ids=doc_ids,
            backend=backend, options=ask_options(body.get("options")),
            owner=owner_of(request, body.get("session")))
        return StreamingResponse(self._lines(events), media_type="application/x-ndjson")

    async def _lines(self, events: Iterator[Any]):
        try:
            async for event in iterate_in_threadpool(observe_events(events, self.metrics)):
                yield json.dumps(event_to_dict(event), ensure_ascii=False) + "\n"
        except OlympusError as exc:
            yield json.dumps({"type": "error", **error_dict(exc)[1]}, ensure_ascii=False) + "\n"
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                await run_in_threadpool(close)
