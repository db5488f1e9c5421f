"""Search, documents, upload jobs, health and backends over the process's one pipeline.

Every pipeline call blocks (embedding, stores), so it runs in the thread pool; the event
loop stays free for other requests and for streams.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared_utils.errors import (
    AnswerQueueFull,
    FileTooLarge,
    JobNotFound,
    OlympusError,
    UnsupportedMediaType,
)
from src.api.errors import error_dict
from src.api.limits import parse_json
from src.api.metrics import Metrics, fallback_reason
from src.events import BackendSwitchEvent, DoneEvent
from src.library.doc_ids import resolve_all
from src.library.jobs import IngestJob, IngestQueue
from src.protocols import Pipeline
from src.schema.requests import AskRequest, SearchRequest, bad_request, read
from src.service.wire import (
    document_to_dict,
    documents_to_dicts,
    event_to_dict,
    plan_to_dict,
    search_to_dict,
)

MB = 1024 * 1024
PDF_MAGIC = b"%PDF-"  # within the first 1024 bytes, as PDF readers accept it


def job_to_dict(job: IngestJob) -> dict[str, Any]:
    """An upload job as the API shows it (who owns it is not shown)."""
    return job.model_dump(exclude={"owner"})


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (its size is bounded by ``src.api.limits.BodyLimit``)."""
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def known_doc_ids(pipeline: Pipeline, ids: list[str] | None) -> list[str] | None:
    """The full ids of ``ids`` (ids or unique prefixes of them), else DocumentNotFound (404)."""
    if not ids:
        return ids
    return resolve_all(pipeline.documents(), ids, hint="List the documents with GET /v1/documents.")


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

    def __init__(self, pipeline: Pipeline, metrics: Metrics) -> None:
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
    def __init__(
        self, pipeline: Pipeline, queue: IngestQueue, metrics: Metrics, max_upload_mb: int
    ) -> None:
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
        asked: SearchRequest = read(SearchRequest, await json_body(request))
        doc_ids = await run_in_threadpool(known_doc_ids, self.pipeline, asked.doc_ids)
        result = await run_in_threadpool(
            self.pipeline.search, asked.query, k=asked.k, doc_ids=doc_ids
        )
        return JSONResponse(search_to_dict(result))

    async def documents(self, _request: Request) -> Response:
        data = await run_in_threadpool(self._documents)
        return JSONResponse({"object": "list", "data": data})

    def _documents(self) -> list[dict[str, Any]]:
        return documents_to_dicts(self.pipeline.documents(), self.pipeline.originals)

    async def upload(self, request: Request) -> Response:
        """Read the PDF (``BodyLimit`` stops a body past the limit as it arrives), refuse what
        is not a PDF at once (415), queue the rest (202 and the job to follow)."""
        async with request.form() as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise bad_request(
                    "No file in the upload.",
                    "Send the PDF as multipart form field 'file' (curl -F file=@paper.pdf).",
                )
            data = await upload.read()
            name = upload.filename or "upload.pdf"
            owner = owner_of(request, form.get("session"))
        if len(data) > self.max_upload_mb * MB:
            raise FileTooLarge(
                f"{name} is {len(data) / MB:.1f} MB; the limit is {self.max_upload_mb} MB."
            )
        if PDF_MAGIC not in data[:1024]:
            raise UnsupportedMediaType(f"{name} is not a PDF (it does not start with %PDF-).")
        job_id = self.queue.submit(Measured(self.pipeline, self.metrics), name, data, owner=owner)
        return JSONResponse({"job": job_to_dict(self._job(job_id, owner))}, status_code=202)

    def _job(self, job_id: int, owner: str) -> IngestJob:
        for job in self.queue.jobs(owner):
            if job.id == job_id:
                return job
        raise JobNotFound(f"There is no upload job {job_id} of this key.")

    async def jobs(self, request: Request) -> Response:
        """The caller's kept upload jobs (the UI names its browser session), oldest first."""
        owner = owner_of(request, request.query_params.get("session"))
        return JSONResponse(
            {"object": "list", "data": [job_to_dict(j) for j in self.queue.jobs(owner)]}
        )

    async def job(self, request: Request) -> Response:
        owner = owner_of(request, request.query_params.get("session"))
        job = self._job(request.path_params["job_id"], owner)
        return JSONResponse({"job": job_to_dict(job)}, status_code=200)

    async def cancel(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        owner = owner_of(request, request.query_params.get("session"))
        cancelled = self.queue.cancel(job_id, owner=owner)
        return JSONResponse({"job": job_to_dict(self._job(job_id, owner)), "cancelled": cancelled})

    async def delete(self, request: Request) -> Response:
        record = await run_in_threadpool(
            self.pipeline.delete_document, request.path_params["doc_id"]
        )
        return JSONResponse({"deleted": document_to_dict(record)})

    async def health(self, _request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.pipeline.health))

    async def backends(self, _request: Request) -> Response:
        plan = await run_in_threadpool(self.pipeline.backends)
        answering = await run_in_threadpool(self.pipeline.answering)
        return JSONResponse(plan_to_dict(plan, answering))

    async def ask(self, request: Request) -> Response:
        """The pipeline's own event stream, one JSON object per line (the remote client's)."""
        asked: AskRequest = read(AskRequest, await json_body(request))
        doc_ids = await run_in_threadpool(known_doc_ids, self.pipeline, asked.doc_ids)
        events = await asking(
            self.metrics,
            self.pipeline.ask,
            asked.question,
            history=asked.history,
            doc_ids=doc_ids,
            backend=asked.backend,
            options=asked.options,
            owner=owner_of(request, asked.session),
        )
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
