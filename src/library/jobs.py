"""Background ingestion: the service API's upload queue, indexed in a worker thread.

So an upload keeps going when the user switches page or refreshes, and the Documents page
only *shows* progress (``src/service/upload_jobs.py`` polls the API's jobs; a bare
``streamlit run`` without a service runs this queue in its own process). One worker: ingestion is CPU-bound (embedding),
and two at once on a small machine would only slow both down.

With a spool folder (the API's queue: ``<data dir>/upload_spool``), an accepted upload is on
disk, with its job, before ``submit`` returns, and stays there until its job ends (indexed,
duplicate, failed or cancelled); ``resume`` queues what a crash left behind under the same
job ids, and ids keep counting from where they were.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from pydantic import ConfigDict

from shared_utils.atomic import atomic_write_bytes, atomic_write_text
from shared_utils.errors import IngestCancelled, OlympusError, UploadRefused
from shared_utils.types import Progress
from src.protocols import Ingests
from src.schema.library import Job, JobState

logger = structlog.get_logger(__name__)

MB = 1024 * 1024
NEXT_ID = "next_id"


@dataclass(frozen=True)
class QueueLimits:
    """Bounds on what waits in memory: bytes and jobs per session and in total."""

    session_bytes: int = 250 * MB
    total_bytes: int = 500 * MB
    session_jobs: int = 10
    total_jobs: int = 40

    @classmethod
    def from_settings(cls, settings: Any) -> QueueLimits:
        return cls(
            session_bytes=settings.session_queue_mb * MB,
            total_bytes=settings.queue_mb * MB,
            session_jobs=settings.session_queue_jobs,
            total_jobs=settings.queue_jobs,
        )


class IngestJob(Job):
    """A job of the queue: the schema's ``Job`` (what the API shows) and who owns it."""

    model_config = ConfigDict(extra="ignore", frozen=False)

    owner: str = ""

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def fraction(self) -> float:
        if not self.active:
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0


class IngestQueue:
    """Thread-safe, bounded queue of ingestion jobs, each owned by one browser session.

    ``jobs(owner)`` returns snapshots of that session's jobs only (names and errors of other
    visitors' files are never shown). ``submit`` refuses a file (UploadRefused) when the
    bytes or jobs waiting would exceed :class:`QueueLimits`; ``cancel`` drops a queued job or
    stops a running one at its next progress step (the ingest rolls back: nothing stored).
    """

    def __init__(
        self, *, limits: QueueLimits | None = None, keep: int = 50, spool: Path | None = None
    ) -> None:
        self.limits = limits or QueueLimits()
        self._jobs: dict[int, IngestJob] = {}
        self._data: dict[int, bytes] = {}  # bytes of jobs not started yet
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="olympus-ingest")
        self._keep = keep
        self.spool = spool
        self._stopping = False
        self._ids = itertools.count(self._first_id())

    @classmethod
    def from_settings(cls, settings: Any, *, spool: Path | None = None) -> IngestQueue:
        """``spool``: the data dir's folder that keeps accepted uploads until indexed
        (``DataDir.upload_spool`` for the API, ``ui_upload_spool`` for the UI); None keeps
        them in memory."""
        return cls(limits=QueueLimits.from_settings(settings), spool=spool)

    def spooled(self) -> bool:
        """Whether uploads from before a crash or stop wait in the spool."""
        return self.spool is not None and any(self.spool.glob("*.json"))

    def submit(self, pipeline: Ingests, name: str, data: bytes, *, owner: str = "") -> int:
        """Queue ``data`` (a file called ``name``) for ``owner``; returns the job id.

        Raises UploadRefused (naming the limit and its setting) when the queue is full.
        """
        with self._lock:
            job = IngestJob(id=next(self._ids), name=name, size_bytes=len(data), owner=owner)
            self._check_room(job)
            self._jobs[job.id] = job
            self._data[job.id] = data
            self._trim()
        try:
            self._spool_write(job, data)
        except OSError as exc:
            with self._lock:
                self._jobs.pop(job.id, None)
                self._data.pop(job.id, None)
            raise UploadRefused(
                f"{name} was not queued: it could not be kept on disk ({exc}).",
                hint="Free some disk space in the data dir, then upload again.",
            ) from exc
        self._executor.submit(self._run, pipeline, job.id)
        logger.info("ui.ingest.queued", job=job.id, name=name, bytes=len(data))
        return job.id

    def resume(self, pipeline: Ingests) -> int:
        """Queue the uploads a crash left in the spool, under their job ids; how many."""
        if self.spool is None or not self.spool.is_dir():
            return 0
        resumed = 0
        for meta in sorted(
            self.spool.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0
        ):
            try:
                row = json.loads(meta.read_text(encoding="utf-8"))
                data = meta.with_suffix(".pdf").read_bytes()
                job = IngestJob(
                    id=int(row["id"]),
                    name=str(row["name"]),
                    size_bytes=len(data),
                    owner=str(row.get("owner", "")),
                    submitted_at=float(row.get("submitted_at") or time.time()),
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                logger.warning("ui.ingest.spool_unreadable", file=meta.name, error=str(exc))
                continue
            with self._lock:
                self._jobs[job.id] = job
                self._data[job.id] = data
            self._executor.submit(self._run, pipeline, job.id)
            resumed += 1
            logger.info("ui.ingest.resumed", job=job.id, name=job.name)
        return resumed

    # --- the spool -----------------------------------------------------------------------
    def _first_id(self) -> int:
        if self.spool is None:
            return 1
        try:
            counted = int((self.spool / NEXT_ID).read_text())
        except (OSError, ValueError):
            counted = 1
        spooled = (
            [int(p.stem) for p in self.spool.glob("*.json") if p.stem.isdigit()]
            if self.spool.is_dir()
            else []
        )
        return max([counted, *(i + 1 for i in spooled)])

    def _spool_write(self, job: IngestJob, data: bytes) -> None:
        if self.spool is None:
            return
        self.spool.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.spool / f"{job.id}.pdf", data, fsync=True)
        atomic_write_text(
            self.spool / f"{job.id}.json",
            json.dumps(
                {
                    "id": job.id,
                    "name": job.name,
                    "owner": job.owner,
                    "submitted_at": job.submitted_at,
                }
            ),
            fsync=True,
        )
        atomic_write_text(self.spool / NEXT_ID, str(job.id + 1))

    def _spool_drop(self, job_id: int) -> None:
        if self.spool is None or self._stopping:  # a stop keeps them for the next start
            return
        for suffix in (".json", ".pdf"):
            (self.spool / f"{job_id}{suffix}").unlink(missing_ok=True)

    def jobs(self, owner: str | None = None) -> list[IngestJob]:
        """Copies of the kept jobs of ``owner`` (None: everyone's), oldest first."""
        with self._lock:
            return [
                IngestJob(**vars(j))
                for j in self._jobs.values()
                if owner is None or j.owner == owner
            ]

    def active(self, owner: str | None = None) -> bool:
        with self._lock:
            return any(j.active for j in self._jobs.values() if owner is None or j.owner == owner)

    def cancel(self, job_id: int, *, owner: str | None = None) -> bool:
        """Cancel a queued or running job of ``owner``; False if there is none to cancel."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.active or (owner is not None and job.owner != owner):
                return False
            job.cancel_requested = True
            if job.state == "queued":
                self._finish(job, "cancelled", "Cancelled before indexing started.")
        logger.info("ui.ingest.cancel_requested", job=job_id)
        return True

    def dismiss_finished(self, owner: str | None = None) -> None:
        with self._lock:
            for job_id in [
                i
                for i, j in self._jobs.items()
                if not j.active and (owner is None or j.owner == owner)
            ]:
                del self._jobs[job_id]

    def shutdown(self) -> None:
        """Cancel every job and wait for the running one to stop (process shutdown, tests);
        spooled uploads stay on disk and resume at the next start."""
        with self._lock:
            self._stopping = True
            for job in self._jobs.values():
                if job.active:
                    job.cancel_requested = True
                    if job.state == "queued":
                        self._finish(job, "cancelled", "Cancelled: Olympus is stopping.")
        self._executor.shutdown(wait=True, cancel_futures=True)

    # --- limits ------------------------------------------------------------------------------
    def _check_room(self, job: IngestJob) -> None:
        """Raise UploadRefused, naming the limit and its setting, if ``job`` does not fit."""
        waiting = [j for j in self._jobs.values() if j.active]
        mine = [j for j in waiting if j.owner == job.owner]
        lim = self.limits
        mine_mb = (sum(j.size_bytes for j in mine) + job.size_bytes) / MB
        all_mb = (sum(j.size_bytes for j in waiting) + job.size_bytes) / MB
        checks = [
            (
                len(mine) >= lim.session_jobs,
                "OLYMPUS_SESSION_QUEUE_JOBS",
                f"you already have {len(mine)} file(s) waiting; the limit is "
                f"{lim.session_jobs} per session",
            ),
            (
                len(waiting) >= lim.total_jobs,
                "OLYMPUS_QUEUE_JOBS",
                f"{len(waiting)} file(s) are waiting; the limit is {lim.total_jobs} in total",
            ),
            (
                mine_mb * MB > lim.session_bytes,
                "OLYMPUS_SESSION_QUEUE_MB",
                f"your waiting files would take {mine_mb:.1f} MB; the limit is "
                f"{lim.session_bytes // MB} MB per session",
            ),
            (
                all_mb * MB > lim.total_bytes,
                "OLYMPUS_QUEUE_MB",
                f"the waiting files would take {all_mb:.1f} MB; the limit is "
                f"{lim.total_bytes // MB} MB in total",
            ),
        ]
        for over, setting, why in checks:
            if over:
                logger.warning("ui.ingest.refused", name=job.name, limit=setting)
                raise UploadRefused(f"{job.name} was not queued: {why} ({setting})")

    # --- worker ----------------------------------------------------------------------------
    def _finish(self, job: IngestJob, state: JobState, message: str, hint: str = "") -> None:
        """Under the lock: a terminal state; the job's bytes are released."""
        job.state, job.message, job.hint, job.finished_at = state, message, hint, time.time()
        self._data.pop(job.id, None)
        self._spool_drop(job.id)

    def _update(self, job_id: int, **fields: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                for key, value in fields.items():
                    setattr(job, key, value)

    def _start(self, job_id: int) -> tuple[IngestJob, bytes] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            data = self._data.pop(job_id, None)
            if job is None or job.state != "queued" or data is None:
                return None  # cancelled (or dismissed) while it waited
            job.state, job.stage = "running", "starting"
            return job, data

    def _progress(self, job_id: int) -> Callable[[Progress], None]:
        def progress(p: Progress) -> None:
            with self._lock:
                job = self._jobs[job_id]
                job.stage, job.done, job.total, job.message = p.stage, p.done, p.total, p.message
                # once stored, the document stays: its late OCR (already searchable) and the
                # last steps are not cancelled (deleting the document removes it)
                final = p.stage in ("done", "late_ocr") or (
                    p.stage == "store" and p.done >= p.total
                )
                if job.cancel_requested and not final:
                    raise IngestCancelled(f"{job.name}: cancelled; nothing of it was stored")

        return progress

    def _run(self, pipeline: Ingests, job_id: int) -> None:
        started = self._start(job_id)
        if started is None:
            return
        job, data = started
        name = job.name
        try:
            result = pipeline.ingest_bytes(data, name, progress=self._progress(job_id))
        except IngestCancelled as exc:
            logger.info("ui.ingest.cancelled", job=job_id, name=name)
            self._set_final(job_id, "cancelled", exc.message)
        except OlympusError as exc:
            logger.warning("ui.ingest.rejected", job=job_id, name=name, error=exc.message)
            self._set_final(job_id, "failed", exc.message, exc.hint)
        except Exception as exc:
            logger.exception("ui.ingest.failed", job=job_id, name=name)
            self._set_final(
                job_id,
                "failed",
                f"Could not index this file ({type(exc).__name__}).",
                "The details are in the server log. Try again; if it keeps failing, "
                "report it with the log.",
            )
        else:
            status = result.status
            doc = result.doc
            self._update(job_id, doc_id=doc.id, pages=doc.pages, chunks=doc.chunks)
            self._set_final(
                job_id, "duplicate" if status == "duplicate" else "added", result.message or ""
            )
            logger.info("ui.ingest.done", job=job_id, name=name, status=status)

    def _set_final(self, job_id: int, state: JobState, message: str, hint: str = "") -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._finish(job, state, message, hint)

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if not j.active]
        for job in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job.id]
