"""The Documents page's view of the service's upload queue: one queue, the API's.

Under ``startup.py`` the UI does not index anything itself: an upload goes straight into the
API's job queue (``src/library/jobs.py``, spooled on disk there), named by the browser session
that sent it, and the page shows that job's progress. ``RemoteJobs`` has the calls the page
makes of an in-process :class:`~src.library.jobs.IngestQueue` (which a bare ``streamlit run``
still uses), so the page has one code path for both.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import structlog

from shared_utils.errors import OlympusError, ServiceUnavailable
from src.library.jobs import IngestJob
from src.protocols import Ingests
from src.service.client import RemotePipeline

logger = structlog.get_logger(__name__)


def job_from_dict(d: dict[str, Any], owner: str = "") -> IngestJob:
    """An upload job as the API shows it (the schema's ``Job``), for ``owner``."""
    return IngestJob.model_validate({**d, "owner": owner})


class RemoteJobs:
    """Submit, list, cancel and dismiss upload jobs of the service, per browser session."""

    def __init__(self, remote: RemotePipeline) -> None:
        self.remote = remote
        self._lock = threading.Lock()
        self._sessions: set[str] = set()  # sessions that uploaded through this process
        self._dismissed: dict[str, set[int]] = {}  # finished jobs a session cleared
        self._seen: dict[str, list[dict[str, Any]]] = {}  # each session's jobs, last answer

    def submit(self, _pipeline: Ingests | None, name: str, data: bytes, *, owner: str = "") -> int:
        """Queue ``data`` in the service; its job id. The service's refusals (a full queue,
        too large, not a PDF) raise typed, at once."""
        job = self.remote.submit_upload(data, name, session=owner)
        with self._lock:
            self._sessions.add(owner)
        logger.info("ui.ingest.submitted", job=job["id"], name=name, bytes=len(data))
        return int(job["id"])

    def jobs(self, owner: str | None = None) -> list[IngestJob]:
        """The kept jobs of ``owner`` (None: of every session of this process), oldest first."""
        with self._lock:
            owners = [owner] if owner is not None else sorted(self._sessions)
        found = []
        for session in owners:
            hidden = self._dismissed.get(session, set())
            found += [
                job_from_dict(d, session) for d in self._served(session) if d["id"] not in hidden
            ]
        return sorted(found, key=lambda j: j.id)

    def _served(self, session: str) -> list[dict[str, Any]]:
        """The service's jobs of ``session``; while it restarts (its queue resumes the spooled
        uploads under the same ids), the last answer, so the page keeps following them."""
        try:
            rows = self.remote.upload_jobs(session=session)
        except ServiceUnavailable:
            return self._seen.get(session, [])
        self._seen[session] = rows
        return rows

    def active(self, owner: str | None = None) -> bool:
        return any(j.active for j in self.jobs(owner))

    def cancel(self, job_id: int, *, owner: str | None = None) -> bool:
        return self.remote.cancel_upload(job_id, session=owner or "")

    def dismiss_finished(self, owner: str | None = None) -> None:
        for job in self.jobs(owner):
            if not job.active:
                with self._lock:
                    self._dismissed.setdefault(job.owner, set()).add(job.id)

    def send_spooled(self, spool: Path) -> int:
        """Uploads an earlier UI queued in its own spool (before uploads went to the service
        directly) are sent to the service, then removed; how many."""
        sent = 0
        for meta in sorted(spool.glob("*.json")) if spool.is_dir() else []:
            try:
                row = json.loads(meta.read_text(encoding="utf-8"))
                self.submit(
                    None,
                    str(row["name"]),
                    meta.with_suffix(".pdf").read_bytes(),
                    owner=str(row.get("owner", "")),
                )
            except (OSError, ValueError, KeyError, OlympusError) as exc:
                logger.warning("ui.ingest.spool_not_sent", file=meta.name, error=str(exc))
                continue
            meta.with_suffix(".pdf").unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            sent += 1
        return sent

    def shutdown(self) -> None:
        """Nothing runs here: the service's queue keeps going."""
