"""PDFs without a usable text layer, made from real manual pages, become answerable.

Pages 20-21 of the Bash reference manual are turned into a scan (images only), into a PDF
whose font's ToUnicode map lies (a garbled text layer) and into one whose glyphs extract as
control characters. Each is ingested with OCR on (Tesseract, as installed by
scripts/install.sh): the answer to a question about the second page is found on page 2 and
cited as page 2, the highlight on the OCR'd page covers the passage's place on the original
page, and the parse report says what was done. With OCR off, the scan is refused with a
message that says how to fix it, and nothing is stored.
"""

from __future__ import annotations

import shutil

import pytest

from shared_utils.documents.render import passage_boxes
from shared_utils.errors import NoExtractableText
from src.library.library import Library
from src.settings import load_settings
from tests.conftest import real_pdf
from tests.fixtures.scans import (
    make_control_font_pdf,
    make_lying_font_pdf,
    make_scanned_pdf,
    page_texts,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("tesseract") is None,
        reason="tesseract is not installed: run `bash scripts/install.sh`",
    ),
]
SOURCE_PAGES = [20, 21]
QUESTION = "What does the conditional expression return if the regular expression is incorrect?"
ANSWER = "syntactically incorrect"


@pytest.fixture(scope="module")
def bashref() -> bytes:
    return real_pdf("bashref").read_bytes()


@pytest.fixture(scope="module")
def lib(tmp_path_factory, embedder):
    library = Library.open(
        load_settings(
            data_dir=tmp_path_factory.mktemp("ocr"), chunk_tokens=96, chunk_overlap_tokens=16
        )
    )
    yield library
    library.close()


def _answer_hit(lib: Library, doc_id: str):
    hits = lib.search(QUESTION, k=3, doc_ids=[doc_id]).results
    assert hits, "nothing found in the OCR'd document"
    best = next((h for h in hits if ANSWER in h.chunk.text.replace("\n", " ")), None)
    assert best is not None, (
        f"the answer is not in the top hits: {[h.chunk.text[:80] for h in hits]}"
    )
    return best


def test_a_scanned_manual_is_ocrd_answerable_and_cited_on_the_right_page(lib, bashref):
    scan = make_scanned_pdf(bashref, SOURCE_PAGES, dpi=200)
    events = []
    result = lib.ingest_bytes(scan, "bashref-scan.pdf", progress=events.append)

    report = result.doc.parse_report
    assert report["ocr_pages"] == [1, 2] and report["text_pages"] == 0
    assert report["flagged"] == {} and report["failed"] == {}  # scans are not "damaged"
    assert [(e.done, e.total) for e in events if e.stage == "ocr"] == [(1, 2), (2, 2)]
    hit = _answer_hit(lib, result.doc.id)
    assert (hit.chunk.page_start, hit.chunk.page_end) == (2, 2)

    # The highlight on the OCR'd page lies where the passage is on the original page.
    words = lib.originals.words(result.doc.id)
    assert set(words) == {1, 2}
    ocr_boxes = passage_boxes(lib.originals.read(result.doc.id), 2, hit.chunk.text, words[2])
    original_boxes = passage_boxes(bashref, SOURCE_PAGES[1], hit.chunk.text)
    assert ocr_boxes and original_boxes
    assert abs(_top(ocr_boxes) - _top(original_boxes)) < 0.02
    assert abs(_bottom(ocr_boxes) - _bottom(original_boxes)) < 0.02


def _top(boxes) -> float:
    return min(b.y0 for b in boxes)


def _bottom(boxes) -> float:
    return max(b.y1 for b in boxes)


@pytest.mark.parametrize(
    "make, reason",
    [
        pytest.param(make_lying_font_pdf, "garbled", id="lying-tounicode"),
        pytest.param(make_control_font_pdf, "control characters", id="control-characters"),
    ],
)
def test_a_damaged_text_layer_is_replaced_by_ocr(lib, bashref, make, reason):
    pdf = make(page_texts(bashref, SOURCE_PAGES))
    result = lib.ingest_bytes(pdf, f"bashref-{reason}.pdf")

    report = result.doc.parse_report
    assert report["flagged"] == {"1": reason, "2": reason}
    assert report["ocr_pages"] == [1, 2]
    hit = _answer_hit(lib, result.doc.id)
    assert hit.chunk.page_start == 2
    # The damaged text itself is not indexed.
    garbled = make([ANSWER])  # the same words through the same broken font
    from shared_utils.documents.pdf_worker import extract_texts

    garbage = extract_texts(garbled)[0].split()[0]
    hits = lib.search(garbage, k=5, doc_ids=[result.doc.id]).results
    assert all(garbage not in h.chunk.text for h in hits)


def test_with_ocr_off_a_scan_is_refused_and_nothing_is_stored(tmp_path, bashref, embedder):
    library = Library.open(load_settings(data_dir=tmp_path / "data", ocr="off"))
    try:
        with pytest.raises(NoExtractableText) as info:
            library.ingest_bytes(make_scanned_pdf(bashref, [20], dpi=100), "scan.pdf")
        assert "OCR is off" in info.value.message and "OLYMPUS_OCR=auto" in info.value.hint
        assert library.documents() == []
        assert not list((tmp_path / "data").glob("originals/*"))
    finally:
        library.close()
