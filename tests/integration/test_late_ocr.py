"""A PDF with text pages and a scanned page is searchable before its OCR ends.

The document: pages 19-20 of the Bash reference manual with their text layer, then page 21
as a scan (an image only). Through the real library (PDF worker, Tesseract, embedder, the
three stores): while the scanned page is being read, the document is listed, its text pages
are found by search and its report says the OCR continues; afterwards the scanned page's
passage is found and cited as page 3. A page Tesseract cannot read and an OCR cut short by a
crash lose nothing: the document keeps its text pages and says which page could not be read.
"""

from __future__ import annotations

import io
import shutil

import pytest

from shared_utils.documents.triage import ParseReport
from shared_utils.types import Progress
from src.library.late_ocr import INTERRUPTED, STAGE
from src.library.library import Library
from src.settings import load_settings
from tests.conftest import real_pdf
from tests.fixtures.scans import make_scanned_pdf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("tesseract") is None,
        reason="tesseract is not installed: run `bash scripts/install.sh`",
    ),
]
SCANNED = "What does the conditional expression return if the regular expression is incorrect?"
SCANNED_ANSWER = "syntactically incorrect"
TEXT_QUESTION = "pipeline return status pipefail"


@pytest.fixture(scope="module")
def mixed_pdf() -> bytes:
    """Bash manual pages 19-20 (text layer) and 21 (scanned, 150 dpi), in that order."""
    import pypdfium2 as pdfium

    bashref = real_pdf("bashref").read_bytes()
    out = pdfium.PdfDocument.new()
    out.import_pages(pdfium.PdfDocument(bashref), [18, 19])
    out.import_pages(pdfium.PdfDocument(make_scanned_pdf(bashref, [21], dpi=150)), [0])
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def _open(path, **overrides) -> Library:
    return Library.open(
        load_settings(data_dir=path, chunk_tokens=96, chunk_overlap_tokens=16, **overrides)
    )


def _pages_found(lib: Library, query: str, doc_id: str) -> set[int]:
    return {h.chunk.page_start for h in lib.search(query, k=5, doc_ids=[doc_id]).results}


def test_text_pages_are_searchable_while_the_scanned_page_is_read(tmp_path, mixed_pdf, embedder):
    lib = _open(tmp_path / "data")
    seen: dict[str, object] = {}

    def progress(p: Progress) -> None:
        if p.stage == STAGE and "during" not in seen:  # the OCR has begun: look from outside
            docs = lib.documents()
            seen["during"] = p.message
            seen["listed"] = [(d.name, d.parse_report.get("ocr_pending")) for d in docs]
            # what the Documents page's Read column and `docs list` print
            seen["read"] = ParseReport.from_dict(docs[0].parse_report).summary() if docs else ""
            seen["text_hits"] = _pages_found(lib, TEXT_QUESTION, docs[0].id) if docs else set()
            seen["scan_hits"] = [h.chunk.text for h in lib.search(SCANNED, k=5).results]

    try:
        result = lib.ingest_bytes(mixed_pdf, "bash-mixed.pdf", progress=progress)
        assert seen["during"].startswith("searchable; OCR of 1 page continues")
        assert seen["listed"] == [("bash-mixed.pdf", [3])]
        assert "searchable; OCR of 1 page continues" in seen["read"]
        assert seen["text_hits"] & {1, 2}
        assert not any(SCANNED_ANSWER in t.replace("\n", " ") for t in seen["scan_hits"])

        report = result.doc.parse_report
        assert report["ocr_pages"] == [3] and report["ocr_pending"] == []
        assert report["text_pages"] == 2 and report["failed"] == {}
        hits = lib.search(SCANNED, k=3, doc_ids=[result.doc.id]).results
        best = next(h for h in hits if SCANNED_ANSWER in h.chunk.text.replace("\n", " "))
        assert (best.chunk.page_start, best.chunk.page_end) == (3, 3)
        stored = lib.documents()[0]
        assert stored.chunks == result.doc.chunks == len(lib.passages(stored.id))
        assert [c.page_start for c in lib.passages(stored.id)] == sorted(
            c.page_start for c in lib.passages(stored.id)
        )  # reading order, OCR'd page last
        assert set(lib.originals.words(stored.id)) == {3}  # the page viewer's word boxes
    finally:
        lib.close()


def test_a_page_tesseract_cannot_read_leaves_the_text_pages(tmp_path, mixed_pdf, embedder):
    # Tesseract gets no time for the page: it fails, as on a page it cannot read
    lib = _open(tmp_path / "data", ocr_page_timeout_s=0.001)
    try:
        result = lib.ingest_bytes(mixed_pdf, "bash-mixed.pdf")
        report = result.doc.parse_report
        assert report["ocr_pages"] == [] and report["ocr_pending"] == []
        assert report["failed"]["3"].startswith("OCR failed")
        assert "page 3 could not be read" in result.message
        assert _pages_found(lib, TEXT_QUESTION, result.doc.id) & {1, 2}
        assert lib.documents()[0].chunks == result.doc.chunks > 0
    finally:
        lib.close()


def test_an_ocr_cut_short_by_a_crash_keeps_the_document(tmp_path, mixed_pdf, embedder):
    lib = _open(tmp_path / "data")

    def crash(p: Progress) -> None:
        if p.stage == STAGE:
            raise KeyboardInterrupt  # the process stops while the scanned page is read

    try:
        with pytest.raises(KeyboardInterrupt):
            lib.ingest_bytes(mixed_pdf, "bash-mixed.pdf", progress=crash)
        chunks = lib.documents()[0].chunks
    finally:
        lib.close()
    lib = _open(tmp_path / "data")  # the next start
    try:
        (doc,) = lib.documents()
        assert doc.chunks == chunks > 0
        assert doc.parse_report["ocr_pending"] == []
        assert doc.parse_report["failed"] == {"3": INTERRUPTED}
        assert _pages_found(lib, TEXT_QUESTION, doc.id) & {1, 2}
        assert lib.originals.has(doc.id)
    finally:
        lib.close()


def test_a_crash_after_the_indexes_leaves_no_stray_passages(tmp_path, mixed_pdf, embedder):
    lib = _open(tmp_path / "data")
    real_append = lib.docstore.append_chunks

    def crash_before_the_document_store(doc_id, chunks, *, parse_report):
        if chunks:  # the OCR'd page's passages are in the indexes, not yet in the store
            raise KeyboardInterrupt
        real_append(doc_id, chunks, parse_report=parse_report)

    lib.docstore.append_chunks = crash_before_the_document_store
    try:
        with pytest.raises(KeyboardInterrupt):
            lib.ingest_bytes(mixed_pdf, "bash-mixed.pdf")
        assert lib.stores.keywords.count() > lib.documents()[0].chunks  # strays indexed
    finally:
        lib.close()
    lib = _open(tmp_path / "data")
    try:
        (doc,) = lib.documents()
        assert doc.parse_report["failed"] == {"3": INTERRUPTED}
        assert lib.stores.keywords.count() == lib.stores.vectors.count() == doc.chunks
        assert _pages_found(lib, SCANNED, doc.id) <= {1, 2}
    finally:
        lib.close()
