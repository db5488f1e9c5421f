"""Background ingestion: uploads are indexed in a worker thread of the Streamlit process.

So an upload keeps going when the user switches page or refreshes, and the Documents page
only *shows* progress (polling ``jobs()``). One worker: ingestion is CPU-bound (embedding),
and two at once on a small machine would only slow both down.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from shared_utils.errors import OlympusError
from shared_utils.types import Progress

logger = structlog.get_logger(__name__)

JobState = Literal["queued", "running", "added", "duplicate", "failed"]
_ids = itertools.count(1)


@dataclass
class IngestJob:
    id: int
    name: str
    size_bytes: int
    state: JobState = "queued"
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    hint: str = ""
    doc_id: str = ""
    pages: int = 0
    chunks: int = 0
    submitted_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def fraction(self) -> float:
        if self.state in ("added", "duplicate", "failed"):
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0


class IngestQueue:
    """Thread-safe queue of ingestion jobs; ``jobs()`` returns snapshots for rendering."""

    def __init__(self, *, keep: int = 50) -> None:
        self._jobs: dict[int, IngestJob] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="olympus-ingest")
        self._keep = keep

    def submit(self, pipeline: Any, name: str, data: bytes) -> int:
        """Queue ``data`` (a file called ``name``) for ingestion; returns the job id."""
        job = IngestJob(id=next(_ids), name=name, size_bytes=len(data))
        with self._lock:
            self._jobs[job.id] = job
            self._trim()
        self._executor.submit(self._run, pipeline, job.id, data)
        logger.info("ui.ingest.queued", job=job.id, name=name, bytes=len(data))
        return job.id

    def jobs(self) -> list[IngestJob]:
        """Copies of all kept jobs, oldest first."""
        with self._lock:
            return [IngestJob(**vars(j)) for j in self._jobs.values()]

    def active(self) -> bool:
        with self._lock:
            return any(j.active for j in self._jobs.values())

    def dismiss_finished(self) -> None:
        with self._lock:
            for job_id in [i for i, j in self._jobs.items() if not j.active]:
                del self._jobs[job_id]

    # --- worker ----------------------------------------------------------------------------
    def _update(self, job_id: int, **fields: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                for key, value in fields.items():
                    setattr(job, key, value)

    def _run(self, pipeline: Any, job_id: int, data: bytes) -> None:
        self._update(job_id, state="running", stage="starting")
        name = self._jobs[job_id].name

        def progress(p: Progress) -> None:
            self._update(job_id, stage=p.stage, done=p.done, total=p.total, message=p.message)

        try:
            result = pipeline.ingest_bytes(data, name, progress=progress)
        except OlympusError as exc:
            logger.warning("ui.ingest.rejected", job=job_id, name=name, error=exc.message)
            self._update(job_id, state="failed", message=exc.message, hint=exc.hint)
        except Exception as exc:
            logger.exception("ui.ingest.failed", job=job_id, name=name)
            self._update(
                job_id,
                state="failed",
                message=f"Could not index this file ({type(exc).__name__}).",
                hint="The details are in the server log. Try again; if it keeps failing, "
                "report it with the log.",
            )
        else:
            status = result.status
            doc = result.doc
            self._update(
                job_id,
                state="duplicate" if status == "duplicate" else "added",
                message=result.message or "",
                doc_id=doc.id,
                pages=doc.pages,
                chunks=doc.chunks,
            )
            logger.info("ui.ingest.done", job=job_id, name=name, status=status)
        finally:
            self._update(job_id, finished_at=time.time())

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if not j.active]
        for job in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job.id]
