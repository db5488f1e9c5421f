"""Process-owned objects survive anything a browser can send (any browser, signed in or not, can
send Streamlit's clear-cache message, so the pipeline must not live in a Streamlit cache)."""

from __future__ import annotations

import threading
import time

from tests.fixtures.pdfs import make_text_pdf
from tests.ui.conftest import all_text


class _Gated:
    """The service's real pipeline, paused inside an ingest (after chunking) until ``go`` is
    set (the UI hands uploads to the service's queue, which runs that pipeline)."""

    def __init__(self, service_api, monkeypatch) -> None:
        self.ingest = service_api.pipeline.ingest_bytes
        self.reached, self.go = threading.Event(), threading.Event()
        monkeypatch.setattr(service_api.pipeline, "ingest_bytes", self.ingest_bytes)

    def ingest_bytes(self, data, name, *, progress):
        def gated(p):
            if p.stage == "chunk":
                self.reached.set()
                assert self.go.wait(60)
            progress(p)

        return self.ingest(data, name, progress=gated)


def _wait_done(queue, job_id: int, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = next(j for j in queue.jobs() if j.id == job_id)
        if not job.active:
            return job
        time.sleep(0.1)
    raise AssertionError("the ingest did not finish")


def test_clear_cache_message_during_an_ingest_closes_nothing(
    app_env, make_app, embedder, service_api, monkeypatch
):
    """Streamlit's clear_cache message (st.cache_resource.clear()) from any session, mid-ingest:
    the pipeline stays open, the job completes and the document is in the library."""
    import streamlit as st

    from src.ui import state

    at = make_app("documents")
    pipeline, queue = state.pipeline(), state.ingest_queue()
    gated = _Gated(service_api, monkeypatch)
    pages = [f"Page {i}: the flux capacitor needs calibration every {i} days." for i in range(8)]
    job_id = queue.submit(pipeline, "flux.pdf", make_text_pdf(pages), owner="visitor-a")
    assert gated.reached.wait(60), "the ingest started"
    st.cache_resource.clear()  # what a clear_cache message from a browser does
    st.cache_data.clear()
    gated.go.set()
    job = _wait_done(queue, job_id)
    assert job.state == "added", (job.state, job.message)
    assert state.pipeline() is pipeline and state.ingest_queue() is queue
    assert [d.name for d in pipeline.documents()] == ["flux.pdf"]
    at.run()
    assert "1 document(s), 8 pages" in all_text(at)
    assert not at.exception


def test_a_visitor_does_not_see_another_sessions_uploads_or_errors(app_env, make_app, embedder):
    from tests.fixtures.pdfs import make_not_a_pdf
    from tests.ui.conftest import wait_for_ingest

    alice, bob = make_app("documents"), make_app("documents")
    alice.file_uploader[0].set_value(
        [
            ("alice-secret-plan.pdf", make_not_a_pdf(), "application/pdf"),
            (
                "alice-notes.pdf",
                make_text_pdf(["Alice's notes about the flux capacitor."]),
                "application/pdf",
            ),
        ]
    ).run()
    wait_for_ingest(alice)
    bob.run()
    assert "alice-secret-plan.pdf" in all_text(alice), "the uploader sees her own error"
    assert "alice-secret-plan" not in all_text(bob) and not bob.error
    assert "alice-notes.pdf: indexed" not in all_text(bob)
    assert "1 document(s)" in all_text(bob), "the library itself is shared"


def test_cancel_button_stops_a_running_ingest_and_nothing_is_indexed(
    app_env, make_app, embedder, service_api, monkeypatch
):
    from src.ui import state
    from src.ui.documents import OWNER

    at = make_app("documents")
    pipeline, queue = state.pipeline(), state.ingest_queue()
    gated = _Gated(service_api, monkeypatch)
    job_id = queue.submit(
        pipeline,
        "long-manual.pdf",
        make_text_pdf([f"Page {i} text." for i in range(5)]),
        owner=at.session_state[OWNER],
    )
    assert gated.reached.wait(60)
    at.run()
    assert "long-manual.pdf" in all_text(at)
    at.button(key=f"docs_cancel_{job_id}").click().run()
    gated.go.set()
    job = _wait_done(queue, job_id)
    assert job.state == "cancelled"
    at.run()
    assert "long-manual.pdf: cancelled, nothing was indexed." in all_text(at)
    assert pipeline.documents() == [] and "No documents yet" in all_text(at)
    assert not at.exception
