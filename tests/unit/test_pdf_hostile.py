"""Hostile PDFs: bombs hit named limits, invisible text is left out, garbled pages are flagged,
and a file that is not a PDF is described in words (an upload is untrusted input)."""

from __future__ import annotations

import time

import pytest

from shared_utils.documents.pdf import parse_pdf
from shared_utils.documents.pdf_worker import HIDDEN_MARK, ParseLimits
from shared_utils.errors import DocumentTooLarge, NotAPdf
from tests.fixtures.pdfs import (
    HIDDEN_MARKERS,
    make_flate_bomb_pdf,
    make_garbled_pdf,
    make_hidden_text_pdf,
    make_many_pages_pdf,
    make_not_a_pdf,
    make_text_pdf,
)

MODES = [pytest.param(None, id="in-process"), pytest.param(60.0, id="worker")]
PROSE = (
    "The pump must be primed with clean water before the first use, and the outlet valve "
    "must stay closed until the pressure gauge shows a steady reading of two bar."
)


@pytest.mark.parametrize(
    "data,expected",
    [
        (b"", "the file is empty"),
        (make_not_a_pdf(), "a ZIP archive or a Word/Excel/PowerPoint (Office) file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "a PNG image"),
        (b"\xff\xd8\xff\xe0" + bytes(100), "a JPEG image"),
        (b"GIF89a" + bytes(100), "a GIF image"),
        (b"<!DOCTYPE html><html><body>Login</body></html>", "a web page (HTML)"),
        (b"Shopping list\r\nmilk\r\n", "a plain text file"),
    ],
)
def test_a_file_that_is_not_a_pdf_is_described_in_words(data, expected):
    with pytest.raises(NotAPdf) as err:
        parse_pdf(data, name="upload.pdf")
    assert "upload.pdf is not a PDF file: " in err.value.message
    assert expected in err.value.message
    assert "b'" not in err.value.message and "\\x" not in err.value.message


@pytest.mark.parametrize("timeout_s", MODES)
def test_invisible_text_is_left_out_and_the_page_flagged(timeout_s):
    [page] = parse_pdf(make_hidden_text_pdf(), name="hidden.pdf", timeout_s=timeout_s)
    assert "prime the pump" in page.text
    assert "WHITE ON BLACK is readable" in page.text, "white text on a dark box is visible"
    for why, marker in HIDDEN_MARKERS.items():
        assert marker.split()[0] not in page.text, f"{why} text was indexed"
    assert page.flags == ("hidden text",)


def test_kept_hidden_text_is_marked_as_hidden():
    [page] = parse_pdf(
        make_hidden_text_pdf(),
        name="hidden.pdf",
        timeout_s=60,
        limits=ParseLimits(keep_hidden=True),
    )
    visible, _, hidden = page.text.partition(HIDDEN_MARK)
    assert "prime the pump" in visible
    for marker in HIDDEN_MARKERS.values():
        assert marker.split()[0] not in visible and marker.split()[0] in hidden


def test_a_page_whose_font_lies_about_its_letters_is_flagged():
    data = make_garbled_pdf([PROSE * 2, PROSE * 2], garbled={1})
    first, second = parse_pdf(data, name="lying-font.pdf", timeout_s=60)
    assert "primed with clean water" in first.text and first.flags == ()
    assert "primed" not in second.text, "the fixture really extracts as gibberish"
    assert second.flags == ("garbled",)


def test_flate_bomb_is_refused_quickly_by_the_page_character_limit():
    data = make_flate_bomb_pdf()  # ~12 KB that extracts to ~37 M characters
    assert len(data) < 100_000
    start = time.monotonic()
    with pytest.raises(DocumentTooLarge) as err:
        parse_pdf(data, name="bomb.pdf", timeout_s=120)
    assert time.monotonic() - start < 120  # ~2 s on a quiet machine; a liveness bound
    assert "page 1 has 617,398 characters" in err.value.message
    assert "100,000 per page (OLYMPUS_MAX_PAGE_CHARS)" in err.value.message


def test_document_character_limit_names_its_setting():
    with pytest.raises(
        DocumentTooLarge,
        match=r"more than 2,000,000 characters.*page 4.*"
        r"OLYMPUS_MAX_DOCUMENT_CHARS",
    ):
        parse_pdf(
            make_flate_bomb_pdf(pages=8),
            name="bomb.pdf",
            timeout_s=120,
            limits=ParseLimits(max_page_chars=1_000_000, max_document_chars=2_000_000),
        )


def test_the_parser_memory_cap_stops_a_page_that_needs_too_much():
    """With the character caps raised, the worker's RLIMIT_AS is what stops the bomb."""
    limits = ParseLimits(max_page_chars=10**8, max_document_chars=10**9, memory_mb=200)
    with pytest.raises(DocumentTooLarge, match=r"200 MB, OLYMPUS_PARSE_MEMORY_MB"):
        parse_pdf(make_flate_bomb_pdf(pages=2), name="bomb.pdf", timeout_s=120, limits=limits)
    # the same capped worker still parses an ordinary file
    [page] = parse_pdf(make_text_pdf([PROSE]), name="ok.pdf", timeout_s=60, limits=limits)
    assert "primed with clean water" in page.text


def test_page_limit_names_its_setting():
    with pytest.raises(
        DocumentTooLarge, match=r"has 12 pages; the limit is 10 \(OLYMPUS_MAX_PAGES\)"
    ):
        parse_pdf(
            make_many_pages_pdf(12), name="long.pdf", timeout_s=60, limits=ParseLimits(max_pages=10)
        )


def test_worker_reply_size_is_capped(monkeypatch):
    from shared_utils.documents import pdf_worker

    monkeypatch.setattr(pdf_worker.ParseLimits, "max_reply_bytes", property(lambda self: 2000))
    with pytest.raises(DocumentTooLarge, match="parser's reply"):
        parse_pdf(make_many_pages_pdf(40), name="chatty.pdf", timeout_s=60)
