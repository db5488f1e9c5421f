"""RemotePipeline: the pipeline's methods, answered by the API process that owns the stores.

Milvus Lite lets one process open a data dir, so when ``startup.py`` runs the service API,
the UI (and the CLI, when it finds the service running) talk to it instead of opening the
stores. The methods, arguments, return types, events and typed errors are those of
``RAGPipeline``; the JSON between them is ``src/service/wire.py``'s schema. Finding the service (and
waiting for one that starts) is ``src/service/discovery.py``. This module imports no store
or model module, so a CLI command through the service starts in a fraction of a second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from shared_utils.errors import IngestCancelled, OlympusError, ServiceUnavailable
from shared_utils.types import (
    Chunk,
    DocumentRecord,
    Progress,
    ProgressCallback,
    SearchResult,
    no_progress,
)
from src.schema.requests import AskRequest, SearchRequest
from src.service.wire import (
    document_from_dict,
    error_from_dict,
    event_from_dict,
    passage_from_dict,
    plan_from_dict,
)

if TYPE_CHECKING:
    from src.answer.answering import Answering
    from src.models.backends import BackendPlan

logger = structlog.get_logger(__name__)

POLL_S = 0.25  # upload job progress
STARTUP_WAIT_S = 90.0  # an upload waits this long for a service that is still starting
ANSWER_TIMEOUT = httpx.Timeout(connect=3.0, read=900.0, write=60.0, pool=10.0)
CALL_TIMEOUT = httpx.Timeout(connect=3.0, read=120.0, write=120.0, pool=10.0)


class RemotePipeline:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        data_dir: Path | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._data_dir = data_dir
        self._client = client or httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {token}"},
            timeout=CALL_TIMEOUT,
            limits=httpx.Limits(max_keepalive_connections=8),
            # plain HTTP on loopback: no certificate store to load (~30 ms of a CLI call)
            verify=self.url.startswith("https://"),
        )

    # --- transport --------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(
                f"The Olympus service at {self.url} does not answer ({type(exc).__name__})."
            ) from exc
        return self._json(response)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            if isinstance(body, dict) and "error" in body:
                raise error_from_dict(body)
            raise ServiceUnavailable(f"The Olympus service answered HTTP {response.status_code}.")
        return body

    @property
    def originals(self) -> Any:
        """The kept original PDFs: plain files in the shared data dir, read directly (the
        service owns the stores, not these files; they are written before a document is
        visible and removed with it)."""
        from src.data_dir import DataDir
        from src.library.originals import Originals

        if self._data_dir is None:
            raise ServiceUnavailable("The page viewer needs the data dir of the service.")
        return Originals(DataDir(self._data_dir).originals)

    # --- documents --------------------------------------------------------------------------
    def documents(self) -> list[DocumentRecord]:
        return [document_from_dict(d) for d in self._request("GET", "/v1/documents")["data"]]

    def delete_document(self, doc_id: str) -> DocumentRecord:
        return document_from_dict(self._request("DELETE", f"/v1/documents/{doc_id}")["deleted"])

    def passages(self, doc_id: str) -> list[Chunk]:
        rows = self._request("GET", f"/v1/documents/{doc_id}/passages")["data"]
        return [passage_from_dict(r).chunk for r in rows]

    def ingest_file(self, path: Path, *, progress: ProgressCallback = no_progress) -> Any:
        path = Path(path)
        return self.ingest_bytes(path.read_bytes(), path.name, progress=progress)

    def ingest_bytes(
        self, data: bytes, name: str, *, progress: ProgressCallback = no_progress, **_: Any
    ) -> Any:
        """Upload, then follow the job; ``progress`` raising IngestCancelled cancels it."""
        from src.library.ingest import IngestResult

        job = self._upload(data, name, progress)
        while True:
            try:
                progress(
                    Progress(job["stage"] or "queued", job["done"], job["total"], job["message"])
                )
            except IngestCancelled:
                self._request("DELETE", f"/v1/jobs/{job['id']}")
                raise
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(POLL_S)
            job = self._follow(job, progress)
        if job["state"] == "cancelled":
            raise IngestCancelled(job["message"] or f"{name}: cancelled")
        if job["state"] == "failed":
            raise OlympusError(job["message"], hint=job["hint"] or None)
        doc = next((d for d in self.documents() if d.id == job["doc_id"]), None)
        doc = doc or DocumentRecord(
            id=job["doc_id"],
            name=name,
            pages=job["pages"],
            chunks=job["chunks"],
            size_bytes=len(data),
            added_at=0.0,
            status="ready",
        )
        return IngestResult(doc=doc, status=job["state"], message=job["message"])

    def _follow(self, job: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
        """The job's next state. While the service restarts (a crash), wait for it up to
        ``STARTUP_WAIT_S``: the upload is kept on its disk and the job id answers again."""
        deadline = time.monotonic() + STARTUP_WAIT_S
        while True:
            try:
                return self._request("GET", f"/v1/jobs/{job['id']}")["job"]
            except ServiceUnavailable:
                if time.monotonic() >= deadline:
                    raise
            progress(Progress("queued", 0, 1, "the service is restarting; the upload is kept"))
            time.sleep(POLL_S * 2)

    # --- the service's upload jobs (the Documents page shows them) ------------------------------
    def submit_upload(self, data: bytes, name: str, *, session: str = "") -> dict[str, Any]:
        """Queue a PDF in the service's upload queue; the job. ``session`` names the UI's
        browser session (the service's per-session limits). A service still starting is
        waited for, as ``ingest_bytes`` does."""
        return self._upload(data, name, no_progress, session=session)

    def upload_jobs(self, *, session: str = "") -> list[dict[str, Any]]:
        """The kept upload jobs of ``session`` (of this key when empty), oldest first."""
        return self._request("GET", "/v1/jobs", params={"session": session})["data"]

    def cancel_upload(self, job_id: int, *, session: str = "") -> bool:
        return bool(
            self._request("DELETE", f"/v1/jobs/{job_id}", params={"session": session})["cancelled"]
        )

    def _upload(
        self, data: bytes, name: str, progress: ProgressCallback, session: str = ""
    ) -> dict[str, Any]:
        """POST the file; while the service is still starting (it opens the library first),
        wait for it up to ``STARTUP_WAIT_S``, saying so, instead of failing the upload."""
        deadline = time.monotonic() + STARTUP_WAIT_S
        while True:
            try:
                return self._request(
                    "POST",
                    "/v1/documents",
                    data={"session": session},
                    files={"file": (name, data, "application/pdf")},
                )["job"]
            except ServiceUnavailable:
                if time.monotonic() >= deadline:
                    raise
            progress(Progress("queued", 0, 1, "waiting for the document library to open"))
            time.sleep(POLL_S * 2)

    # --- questions --------------------------------------------------------------------------
    def search(
        self, text: str, *, k: int | None = None, doc_ids: Sequence[str] | None = None
    ) -> Any:
        asked = SearchRequest(query=text, k=k, doc_ids=list(doc_ids) if doc_ids else None)
        body = self._request("POST", "/v1/search", json=asked.model_dump(mode="json"))
        return SearchResult(
            query=body["query"],
            timings=body["timings"],
            results=[passage_from_dict(r) for r in body["results"]],
        )

    def ask(
        self,
        question: str,
        *,
        history: Sequence[tuple[str, str]] = (),
        doc_ids: Sequence[str] | None = None,
        backend: str | None = None,
        options: Any = None,
        owner: str = "",
    ) -> Iterator[Any]:
        """The answer's events; errors before the first event are raised here, as in-process.
        ``options``: an ``AskOptions`` (a chat's model, temperature and answer length)."""
        asked = AskRequest(
            question=question,
            history=list(history),
            doc_ids=list(doc_ids) if doc_ids else None,
            backend=backend,
            options=options,
            session=owner or None,
        )
        request = self._client.build_request(
            "POST", "/api/ask", timeout=ANSWER_TIMEOUT, json=asked.model_dump(mode="json")
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(
                f"The Olympus service at {self.url} does not answer ({type(exc).__name__})."
            ) from exc
        if response.status_code >= 400:
            response.read()
            response.close()
            self._json(response)
        return self._events(response)

    def _events(self, response: httpx.Response) -> Iterator[Any]:
        import json

        try:
            for line in response.iter_lines():
                if not line.strip():
                    continue
                data = json.loads(line)
                if data.get("type") == "error":
                    raise error_from_dict(data)
                yield event_from_dict(data)
        except httpx.TransportError as exc:
            raise ServiceUnavailable("The Olympus service stopped answering mid-answer.") from exc
        finally:
            response.close()

    def backends(self) -> BackendPlan:
        return plan_from_dict(self._request("GET", "/api/backends"))[0]

    def answering(self) -> Answering:
        """What answers the next question, as the service decides it (``src/answer/answering.py``)."""
        _, answering = plan_from_dict(self._request("GET", "/api/backends"))
        if answering is None:
            raise ServiceUnavailable("The Olympus service did not say what answers.")
        return answering

    # --- lifecycle --------------------------------------------------------------------------
    def answers(self, *, timeout_s: float = 1.0) -> bool:
        """True when the service is ready now (its readiness URL, no token needed)."""
        try:
            return self._client.get("/api/health", timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def health(self) -> dict[str, dict[str, object]]:
        return self._request("GET", "/v1/health")

    def warm_up_in_background(self) -> None:
        """Nothing to do: the service warms its own pipeline up."""

    def close(self) -> None:
        self._client.close()
