"""The viewer's pictures: the highlight covers exactly the cited passage's characters on a
real manual page; pages are rendered within the pixel caps and turned by /Rotate; OCR runs
with a per-page time limit and progress, and its time does not count against the parse
deadline."""

from __future__ import annotations

import io
import shutil
import time

import pytest

from shared_utils.documents.chunking import chunk_pages
from shared_utils.documents.ocr import OcrOptions
from shared_utils.documents.pdf import parse_document, parse_pdf
from shared_utils.documents.render import MAX_LONG_SIDE, MAX_PIXELS, passage_boxes, render_page
from tests.conftest import real_pdf
from tests.fixtures.pdfs import make_text_pdf
from tests.fixtures.scans import make_scanned_pdf

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract is not installed"
)


def _char_centres(pdf_bytes: bytes, number: int, phrase: str) -> list[tuple[float, float]]:
    """Centres of the characters of ``phrase`` on an unrotated page, as page fractions
    (found by PDFium's own text search, independent of the viewer's locating)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_bytes)
    page = pdf[number - 1]
    width, height = page.get_size()
    textpage = page.get_textpage()
    found = textpage.search(phrase, match_case=True).get_next()
    assert found, f"{phrase!r} is not on page {number}"
    start, count = found
    centres = []
    for index in range(start, start + count):
        left, bottom, right, top = textpage.get_charbox(index)
        if right > left:
            centres.append(((left + right) / 2 / width, 1 - (bottom + top) / 2 / height))
    pdf.close()
    return centres


def _inside(point, boxes) -> bool:
    x, y = point
    return any(b.x0 <= x <= b.x1 and b.y0 <= y <= b.y1 for b in boxes)


def test_the_highlight_covers_the_passage_and_nothing_around_it():
    data = real_pdf("bashref").read_bytes()
    pages = parse_pdf(data, name="bashref.pdf")
    chunks = chunk_pages(
        pages,
        doc_id="d",
        doc_name="bashref.pdf",
        count_tokens=lambda s: len(s.split()),
        max_tokens=60,
        overlap_tokens=0,
    )
    # a chunk in the middle of page 21 (not the first or last on it)
    on_page = [c for c in chunks if c.page_start == c.page_end == 21]
    chunk = on_page[1]
    neighbour = on_page[0]
    boxes = passage_boxes(data, 21, chunk.text)
    assert boxes

    words = chunk.text.split()
    first, last = " ".join(words[:3]), " ".join(words[-3:]).rstrip(".,;:")
    for phrase in (first, last):
        assert all(_inside(c, boxes) for c in _char_centres(data, 21, phrase)), phrase
    # the last words of the chunk before are on the page but not highlighted
    before = " ".join(neighbour.text.split()[-3:]).rstrip(".,;:")
    assert not any(_inside(c, boxes) for c in _char_centres(data, 21, before))


def test_an_a0_page_stays_within_the_pixel_caps_and_rotate_turns_it():
    from PIL import Image

    a0 = make_text_pdf(["A poster with a passage on it."]).replace(
        b"/MediaBox [0 0 612 792]", b"/MediaBox [0 0 2384 3370]"
    )
    picture = render_page(a0, 1)
    assert max(picture.width, picture.height) <= MAX_LONG_SIDE
    assert picture.width * picture.height <= MAX_PIXELS
    turned = render_page(
        a0.replace(b"/MediaBox [0 0 2384 3370]", b"/MediaBox [0 0 2384 3370] /Rotate 90"), 1
    )
    assert turned.width > turned.height  # portrait page shown landscape
    assert Image.open(io.BytesIO(turned.png)).size == (turned.width, turned.height)
    zoomed = render_page(a0, 1, zoom=3.0)
    assert zoomed.width * zoomed.height <= MAX_PIXELS


@needs_tesseract
def test_ocr_has_a_time_limit_per_page_and_reports_the_page():
    import pypdfium2 as pdfium

    scan = make_scanned_pdf(real_pdf("bashref").read_bytes(), [20], dpi=150)
    mixed = pdfium.PdfDocument(make_text_pdf(["A text page that needs no OCR at all, really."]))
    mixed.import_pages(pdfium.PdfDocument(scan))
    buf = io.BytesIO()
    mixed.save(buf)
    events = []
    parsed = parse_document(
        buf.getvalue(),
        name="mixed.pdf",
        timeout_s=30,
        ocr=OcrOptions(page_timeout_s=0.01),
        progress=lambda *e: events.append(e),
    )
    assert parsed.report.text_pages == 1 and parsed.report.ocr_pages == []
    assert "took longer than 0.01 s" in parsed.report.failed[2]
    # progress: every page is read, then OCR counts only the pages that need it (1 of 1)
    assert [e[:3] for e in events if e[0] == "parse"] == [("parse", 1, 2), ("parse", 2, 2)]
    assert [e for e in events if e[0] == "ocr"] == [("ocr", 1, 1, "OCR of page 2 (1 of 1 to read)")]
    assert "text page" in parsed.pages[0].text


@needs_tesseract
def test_ocr_time_is_added_to_the_parse_deadline():
    scan = make_scanned_pdf(real_pdf("bashref").read_bytes(), [20], dpi=150)
    # OCR of one page takes seconds; the 1 s deadline is for reading the PDF itself.
    started = time.monotonic()
    parsed = parse_document(scan, name="scan.pdf", timeout_s=1.0, ocr=OcrOptions())
    assert time.monotonic() - started > 1.0  # it did run past the parse deadline
    assert parsed.report.ocr_pages == [1]
    assert "select then displays the PS3" in " ".join(parsed.pages[0].text.split())


def test_a_trimmed_page_fills_the_width_and_knows_where_its_highlight_is():
    """The viewer shows pages without their blank margins (text fills a phone's width) and
    scrolls to where the highlight starts: ``focus()`` points at the highlight's pixels."""
    from PIL import Image

    data = real_pdf("bashref").read_bytes()
    boxes = passage_boxes(data, 84, "PS1 The primary prompt string.")
    assert boxes
    full = render_page(data, 84, boxes=boxes)
    trimmed = render_page(data, 84, boxes=boxes, trim=True)
    assert trimmed.width < 0.85 * full.width  # the margins are gone
    assert trimmed.height > 0.8 * full.height  # not cut into the text
    x, y = trimmed.focus()
    image = Image.open(io.BytesIO(trimmed.png)).convert("RGB")
    assert image.size == (trimmed.width, trimmed.height)
    assert 0.6 < y < 0.9, "PS1 is in the lower part of page 84"
    # just right of and below the focus point: the highlight's yellow fill
    px = [
        image.getpixel((round(x * trimmed.width) + dx, round(y * trimmed.height) + dy))
        for dx in range(4, 40, 4)
        for dy in range(4, 16, 4)
    ]
    assert any(r > 220 and 200 < g < 250 and b < 190 for r, g, b in px)
    assert render_page(data, 84).focus() is None  # no highlight, nothing to scroll to
