"""The Documents page: upload PDFs (indexed in the background), see progress, list, delete."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import streamlit as st
import structlog

from shared_utils.errors import OlympusError
from src.library.jobs import IngestJob
from src.protocols import Pipeline
from src.ui import admin, identity, render, state
from src.ui.errors import show_error, show_message

logger = structlog.get_logger(__name__)

UPLOADER_GEN = "docs_uploader_generation"
CONFIRM = "docs_confirm_delete"
WAS_ACTIVE = "docs_jobs_were_active"
DELETED = "docs_deleted_message"
OWNER = "docs_upload_owner"
REFUSED = "docs_upload_refused"

_STAGES = {
    "starting": "Starting",
    "hash": "Checking",
    "parse": "Reading pages",
    "ocr": "Reading scanned pages (OCR)",
    "late_ocr": "Searchable; reading its scanned pages (OCR)",
    "normalise": "Cleaning text",
    "chunk": "Splitting into passages",
    "embed": "Embedding passages",
    "store": "Saving",
    "index": "Indexing",
    "done": "Finishing",
}
_UNITS = {
    "parse": "pages",
    "ocr": "pages",
    "late_ocr": "pages",
    "embed": "passages",
    "chunk": "passages",
    "store": "steps",
}


def stage_text(job: IngestJob) -> str:
    """One line: file name, stage and counts, e.g. ``manual.pdf: Reading pages 12/40 pages``."""
    label = _STAGES.get(job.stage, job.stage.capitalize() or "Waiting")
    if job.state == "queued":
        label = "Waiting for the previous file"
    counts = ""
    if job.total:
        counts = f" {job.done}/{job.total} {_UNITS.get(job.stage, '')}".rstrip()
    return f"{render.escape_markdown(job.name)}: {label}{counts}"


def owner() -> str:
    """This browser session's id for its upload jobs (random, kept in the session)."""
    return st.session_state.setdefault(OWNER, secrets.token_hex(16))


def _render_job(job: IngestJob) -> None:
    name = render.escape_markdown(job.name)
    if job.active:
        st.progress(job.fraction, text=stage_text(job))
        if not job.cancel_requested and st.button(
            "Cancel", key=f"docs_cancel_{job.id}", type="tertiary", icon=":material/cancel:"
        ):
            state.ingest_queue().cancel(job.id, owner=owner())
            st.rerun()
    elif job.state == "added":
        st.success(
            f"{name}: indexed, {job.pages} pages, {job.chunks} passages",
            icon=":material/check_circle:",
        )
    elif job.state == "duplicate":
        st.info(f"{name}: already indexed, nothing to do.", icon=":material/content_copy:")
    elif job.state == "cancelled":
        st.info(f"{name}: cancelled, nothing was indexed.", icon=":material/cancel:")
    else:
        message = job.message if job.name in job.message else f"{job.name}: {job.message}"
        st.error(render.escape_markdown(message), icon=":material/error:")
        if job.hint:
            st.caption(f"How to fix: {render.escape_markdown(job.hint)}")


def _jobs_panel() -> None:
    queue = state.ingest_queue()
    jobs = queue.jobs(owner())
    active = any(j.active for j in jobs)
    if st.session_state.get(WAS_ACTIVE) and not active:
        st.session_state[WAS_ACTIVE] = False
        st.rerun(scope="app")  # refresh the table now that indexing finished
    st.session_state[WAS_ACTIVE] = active
    if not jobs and not st.session_state.get(REFUSED):
        return
    for job in reversed(jobs):
        _render_job(job)
    if not active and st.button("Dismiss messages", type="tertiary", icon=":material/close:"):
        queue.dismiss_finished(owner())
        st.session_state.pop(REFUSED, None)
        st.rerun(scope="app")


def _upload(pipeline: Pipeline) -> None:
    settings = state.settings()
    generation = st.session_state.setdefault(UPLOADER_GEN, 0)
    files = st.file_uploader(
        "Add PDF files: drag and drop them here, or click Upload",
        type=["pdf"],
        accept_multiple_files=True,
        key=f"docs_uploader_{generation}",
        max_upload_size=settings.max_upload_mb,
        help=f"Drag and drop PDFs here, up to {settings.max_upload_mb} MB each. "
        "Indexing continues in the background if you leave this page.",
    )
    if not files:
        return
    queue = state.ingest_queue()
    refused = []
    with st.spinner("Handing the files to the document library..."):  # it may still be opening
        for f in files:
            try:
                queue.submit(pipeline, f.name, f.getvalue(), owner=owner())
            except OlympusError as exc:  # the queue is full, or the service refused the file
                refused.append((exc.message, exc.hint))
    st.session_state[REFUSED] = refused
    st.session_state[UPLOADER_GEN] = generation + 1  # a fresh, empty uploader
    st.session_state[WAS_ACTIVE] = True
    st.rerun()


def _table(documents: list[Any], stored: dict[str, int]) -> None:
    """Name, pages and date first, in widths that fit a phone; passages, size, how it was
    read after."""
    from shared_utils.documents.triage import ParseReport

    reports = {d.id: ParseReport.from_dict(getattr(d, "parse_report", None)) for d in documents}
    rows = [
        {
            "Name": d.name,
            "Pages": d.pages,
            "Read": reports[d.id].summary(pages=False) or "-",
            "Added": dt.datetime.fromtimestamp(d.added_at).strftime("%d %b %H:%M"),
            "Passages": d.chunks,
            "Size": render.human_bytes(stored.get(d.id) or d.size_bytes),
        }
        for d in documents
    ]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "Name": st.column_config.TextColumn(width=170),
            "Pages": st.column_config.NumberColumn(width=50),
            "Read": st.column_config.TextColumn(width=240, help="How the pages were read"),
            "Added": st.column_config.TextColumn(width=96, help="When it was added (server time)"),
            "Passages": st.column_config.NumberColumn(width=72),
            "Size": st.column_config.TextColumn(width=72),
        },
    )
    # in full, where a table cell would cut it off: what OCR did and which pages were flagged
    for d in documents:
        if reports[d.id].notable:
            st.caption(
                f":material/document_scanner: {render.escape_markdown(d.name)}: "
                f"{render.escape_markdown(reports[d.id].summary())}"
            )


def _delete(pipeline: Pipeline, documents: list[Any]) -> None:
    names = {d.id: d.name for d in documents}
    access = identity.access()
    with st.expander("Delete a document", icon=":material/delete:"):
        if not access.is_admin:
            admin.explain_admin_only(access, "delete documents")
            return
        doc_id = st.selectbox(
            "Document", list(names), format_func=lambda i: names.get(i, i), key="docs_delete_pick"
        )
        pending = st.session_state.get(CONFIRM)
        if pending != doc_id:
            if st.button("Delete…", key="docs_delete", disabled=doc_id is None):
                st.session_state[CONFIRM] = doc_id
                st.rerun()
            return
        st.warning(
            f"Delete **{render.escape_markdown(names.get(doc_id, ''))}** from every index? "
            "Answers will no longer cite it.",
            icon=":material/warning:",
        )
        yes, no = st.columns(2)
        if yes.button("Yes, delete", type="primary", key="docs_delete_yes"):
            st.session_state.pop(CONFIRM, None)
            try:
                record = admin.delete_document(pipeline, doc_id, access)
            except Exception as exc:  # noqa: BLE001 - entry point
                show_error(exc, doing="delete the document")
                return
            st.session_state[DELETED] = getattr(record, "name", names.get(doc_id, ""))
            st.rerun()
        if no.button("Cancel", key="docs_delete_no"):
            st.session_state.pop(CONFIRM, None)
            st.rerun()


def render_page() -> None:
    st.title("Documents")
    try:
        pipeline = state.pipeline()
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="open the document library")
        return
    _upload(pipeline)
    # files refused at once (a full queue, not a PDF) stay listed like failed jobs
    for message, hint in st.session_state.get(REFUSED, []):
        show_message(message, hint)
    active = state.ingest_queue().active(owner())
    st.fragment(_jobs_panel, run_every=1.0 if active else None)()
    if DELETED in st.session_state:
        name = render.escape_markdown(st.session_state.pop(DELETED))
        st.success(f"Deleted {name}.", icon=":material/delete:")
    try:
        documents = pipeline.documents()
    except Exception as exc:  # noqa: BLE001 - entry point
        show_error(exc, doing="list the documents")
        return
    if not documents:
        st.caption("No documents yet. Indexed PDFs will be listed here.")
        return
    total_pages = sum(d.pages for d in documents)
    stored = {d.id: pipeline.originals.stored_bytes(d.id) for d in documents}
    st.subheader(f"{len(documents)} document(s), {total_pages} pages")
    st.caption(
        f"Original PDFs kept for the page viewer: {render.human_bytes(sum(stored.values()))}. "
        "Read: pages taken from the text layer, pages read by OCR (scans, damaged text), "
        "pages flagged and why."
    )
    _table(documents, stored)
    _delete(pipeline, documents)
