"""The upload queue: bounded, per session, cancellable with a rollback (one visitor must not
fill the disk or the queue for everyone, and a cancelled upload leaves nothing behind).

Jobs run on a real Library (SQLite, BM25, Milvus Lite, the real embedder); a gate pauses an
ingest at a chosen progress step so a test can act while it is queued or running.
"""

from __future__ import annotations

import threading
import time

import pytest

from shared_utils.errors import UploadRefused
from src.library.jobs import IngestQueue, QueueLimits
from tests.fixtures.pdfs import make_not_a_pdf, make_text_pdf

MB = 1024 * 1024


def _pdf(tag: str, pages: int = 3) -> bytes:
    return make_text_pdf(
        [f"{tag} page {i}: calibrate the flux capacitor every {i + 2} days." for i in range(pages)]
    )


class Gate:
    """Wraps the real library; pauses the first ingest that reports ``(stage, done)``."""

    def __init__(self, library, stage: str = "chunk", done: int | None = None) -> None:
        self.library, self.stage, self.done = library, stage, done
        self.reached, self.go = threading.Event(), threading.Event()

    def ingest_bytes(self, data, name, *, progress):
        def gated(p):
            if (
                p.stage == self.stage
                and (self.done is None or p.done == self.done)
                and not self.reached.is_set()
            ):
                self.reached.set()
                assert self.go.wait(60)
            progress(p)

        return self.library.ingest_bytes(data, name, progress=gated)


@pytest.fixture
def library(settings, embedder):
    from src.library.library import Library

    lib = Library.open(settings)
    yield lib
    lib.close()


def _wait(queue: IngestQueue, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while queue.active():
        assert time.monotonic() < deadline, "jobs did not finish"
        time.sleep(0.05)


def _by_name(jobs):
    return {j.name: j for j in jobs}


def test_each_session_sees_only_its_own_jobs(library):
    queue = IngestQueue()
    queue.submit(library, "alice-notes.pdf", _pdf("alice"), owner="alice")
    queue.submit(library, "bob-secret-plan.pdf", make_not_a_pdf(), owner="bob")
    _wait(queue)
    alice, bob = _by_name(queue.jobs("alice")), _by_name(queue.jobs("bob"))
    assert list(alice) == ["alice-notes.pdf"] and alice["alice-notes.pdf"].state == "added"
    assert list(bob) == ["bob-secret-plan.pdf"] and bob["bob-secret-plan.pdf"].state == "failed"
    assert not queue.cancel(bob["bob-secret-plan.pdf"].id, owner="alice")
    queue.dismiss_finished("alice")
    assert queue.jobs("alice") == [] and len(queue.jobs("bob")) == 1, "dismiss is per session"
    queue.shutdown()


def test_full_queue_refuses_with_the_limit_and_its_setting(library):
    gate = Gate(library)
    queue = IngestQueue(
        limits=QueueLimits(session_bytes=MB, total_bytes=2 * MB, session_jobs=2, total_jobs=3)
    )
    queue.submit(gate, "one.pdf", _pdf("one"), owner="a")
    assert gate.reached.wait(60)
    queue.submit(gate, "two.pdf", _pdf("two"), owner="a")
    with pytest.raises(UploadRefused, match=r"2 per session.*OLYMPUS_SESSION_QUEUE_JOBS"):
        queue.submit(gate, "three.pdf", _pdf("three"), owner="a")
    with pytest.raises(UploadRefused, match=r"1 MB per session.*OLYMPUS_SESSION_QUEUE_MB"):
        queue.submit(gate, "big.pdf", b"%PDF-" + b"x" * MB, owner="b")
    queue.submit(gate, "b1.pdf", _pdf("b1"), owner="b")
    with pytest.raises(UploadRefused, match=r"3 in total.*OLYMPUS_QUEUE_JOBS"):
        queue.submit(gate, "c1.pdf", _pdf("c1"), owner="c")
    gate.go.set()
    _wait(queue)
    assert sorted(d.name for d in library.documents()) == ["b1.pdf", "one.pdf", "two.pdf"]
    queue.submit(library, "three.pdf", _pdf("three"), owner="a")  # room again when done
    _wait(queue)
    assert len(library.documents()) == 4
    queue.shutdown()


def test_cancelling_a_queued_job_never_indexes_it(library):
    gate = Gate(library)
    queue = IngestQueue()
    first = queue.submit(gate, "first.pdf", _pdf("first"), owner="a")
    assert gate.reached.wait(60)
    second = queue.submit(gate, "second.pdf", _pdf("second"), owner="a")
    assert queue.cancel(second, owner="a")
    gate.go.set()
    _wait(queue)
    jobs = {j.id: j for j in queue.jobs("a")}
    assert jobs[first].state == "added" and jobs[second].state == "cancelled"
    assert [d.name for d in library.documents()] == ["first.pdf"]
    queue.shutdown()


@pytest.mark.parametrize("stage,done", [("chunk", None), ("store", 2)])
def test_cancelling_a_running_job_rolls_it_back(library, stage, done):
    """Cancelled before embedding, or after its vectors were written: nothing stays in any
    index, and the same file can be uploaded again."""
    gate = Gate(library, stage, done)
    queue = IngestQueue()
    data = _pdf("cancel-me", pages=4)
    job_id = queue.submit(gate, "cancel-me.pdf", data, owner="a")
    assert gate.reached.wait(60)
    assert queue.cancel(job_id, owner="a")
    gate.go.set()
    _wait(queue)
    job = queue.jobs("a")[0]
    assert job.state == "cancelled" and "nothing of it was stored" in job.message
    assert library.documents() == []
    stores = library.stores
    assert stores.vectors.count() == 0 and stores.keywords.count() == 0
    assert stores.docstore.pending_documents() == []
    queue.submit(library, "cancel-me.pdf", data, owner="a")
    _wait(queue)
    assert [j.state for j in queue.jobs("a")] == ["cancelled", "added"]
    queue.shutdown()


def test_a_stop_keeps_spooled_uploads_and_the_next_start_resumes_them(library, tmp_path):
    gate = Gate(library)
    spool = tmp_path / "upload_spool"
    queue = IngestQueue(spool=spool)
    running = queue.submit(gate, "first.pdf", _pdf("first"), owner="a")
    waiting = queue.submit(gate, "second.pdf", _pdf("second"), owner="a")
    cancelled = queue.submit(gate, "third.pdf", _pdf("third"), owner="a")
    assert gate.reached.wait(60)
    assert queue.cancel(cancelled, owner="a")
    assert not (spool / f"{cancelled}.pdf").exists(), "cancelling removes it from the disk"
    gate.go.set()
    while queue.active(owner="a") and queue.jobs("a")[0].state != "added":
        time.sleep(0.05)
    queue.shutdown()  # second.pdf may still wait: it is kept for the next start
    kept = {int(p.stem) for p in spool.glob("*.json")}
    assert running not in kept or waiting in kept
    again = IngestQueue(spool=spool)
    assert again.resume(library) == len(kept)
    _wait(again)
    assert {j.id for j in again.jobs("a")} == kept, "the same job ids answer"
    assert "second.pdf" in {d.name for d in library.documents()}
    assert not list(spool.glob("*.pdf"))
    assert again.submit(library, "fourth.pdf", _pdf("fourth"), owner="a") > cancelled
    _wait(again)
    again.shutdown()
