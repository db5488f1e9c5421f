"""The garbled-text check keeps good text layers: shell sessions and patch listings among
sentences (debmake-doc pp. 38 and 93, once sent to OCR) keep their text, while the same pages
with their letters shifted or permuted (what a lying ToUnicode map gives) are still caught."""

from __future__ import annotations

import random
import string

import pytest

from shared_utils.documents.gibberish import looks_garbled
from shared_utils.documents.triage import text_problem
from tests.conftest import real_pdf

LISTING_PAGES = (38, 93)  # 1-based pages of debmake-doc.en.pdf judged garbled before


def _page_text(path, number: int) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return pdf[number - 1].get_textpage().get_text_bounded()
    finally:
        pdf.close()


def _garble(text: str, alphabet: str) -> str:
    low = string.ascii_lowercase
    return text.translate(str.maketrans(low + low.upper(), alphabet + alphabet.upper()))


@pytest.mark.parametrize("number", LISTING_PAGES)
def test_shell_sessions_and_patches_keep_their_text_layer(number):
    text = _page_text(real_pdf("debmake"), number)
    assert "$" in text or "diff" in text or "---" in text  # a listing page, as described
    assert text_problem(text) is None


@pytest.mark.parametrize("number", LISTING_PAGES)
def test_the_same_pages_garbled_are_still_flagged(number):
    text = _page_text(real_pdf("debmake"), number)
    low = string.ascii_lowercase
    shifted = _garble(text, low[7:] + low[:7])
    letters = list(low)
    random.Random(number).shuffle(letters)
    permuted = _garble(text, "".join(letters))
    assert looks_garbled(shifted) and looks_garbled(permuted)
    assert text_problem(shifted) == "garbled"


def test_no_page_of_the_good_manuals_is_judged_garbled():
    import pypdfium2 as pdfium

    for name in ("bashref", "systemtap_tutorial", "nut_faq", "debmake"):
        pdf = pdfium.PdfDocument(str(real_pdf(name)))
        try:
            flagged = [
                i + 1
                for i in range(len(pdf))
                if looks_garbled(pdf[i].get_textpage().get_text_bounded()[:20_000])
            ]
        finally:
            pdf.close()
        assert flagged == [], (name, flagged)
