"""Text normalisation: what a reader (and BM25) would notice in extracted page text."""

from __future__ import annotations

import doctest

import pytest

from shared_utils import embeddings
from shared_utils.documents import chunking, pdf, text
from shared_utils.documents.text import (
    clean_characters,
    join_hyphenated,
    normalize_pages,
    normalize_whitespace,
    strip_repeated_lines,
)


@pytest.mark.parametrize("module", [text, chunking, pdf, embeddings], ids=lambda m: m.__name__)
def test_doctests_pass(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\ufb01rst \ufb02ag e\ufb00ort \ufb03x \ufb04", "first flag effort ffix ffl"),
        ("the \x0crst \x0cle", "the first file"),  # pypdf's OT1 ligature artefacts
        ("signi\x0ccantly", "significantly"),
        ("o\x0bset", "offset"),
        ("\x0dag and \x0dow", "flag and flow"),
        ("su\x0ecient", "sufficient"),
        ("ba\x0fe", "baffle"),
        ("two\r\nlines\r Three\r", "two\nlines\n Three\n"),  # a lone \r in a word is "fl"
        ("bell\x07 and nul\x00", "bell and nul"),
        ("ＦＵＬＬ width", "FULL width"),
    ],
)
def test_clean_characters(raw, clean):
    assert clean_characters(raw) == clean


@pytest.mark.parametrize(
    ("raw", "joined"),
    [
        ("an exam-\nple here", "an example here"),
        ("con-\n  figuration", "configuration"),
        ("a non-\nzero value", "a non-zero value"),
        ("a self-\ncontained file", "a self-contained file"),
        ("the well-known non-zero", "the well-known non-zero"),  # in-line hyphens untouched
        ("see X-\nWindows", "see X-\nWindows"),  # capitalised second part: not a word split
        ("from 1990-\n2000", "from 1990-\n2000"),
    ],
)
def test_join_hyphenated(raw, joined):
    assert join_hyphenated(raw) == joined


def test_join_hyphenated_uses_document_vocabulary():
    assert join_hyphenated("a time-\nout", {"time-out"}) == "a time-out"
    assert join_hyphenated("a time-\nout", {"timeout"}) == "a timeout"
    assert join_hyphenated("a non-\nblocking call", {"nonblocking"}) == "a nonblocking call"


def test_whitespace_normalised():
    assert normalize_whitespace("a \t b\u00a0c\n\n\n\nd  \n e") == "a b c\n\nd\ne"


def test_running_headers_footers_and_page_numbers_dropped():
    pages = [
        f"Network UPS Tools User Manual {n} / 40\nBody text number {word}.\nMore on {word}.\n{n}"
        for n, word in enumerate(["alpha", "beta", "gamma", "delta", "epsilon"], start=1)
    ]
    out = strip_repeated_lines(pages)
    assert out[0] == "Body text number alpha.\nMore on alpha."
    assert all("Network UPS Tools" not in p for p in out)


def test_roman_numeral_headers_dropped():
    pages = [
        f"Guide {r}\nContent {w}.\nTail {w}."
        for r, w in zip(["i", "ii", "iii", "iv"], ["one", "two", "three", "four"], strict=True)
    ]
    assert strip_repeated_lines(pages) == [
        f"Content {w}.\nTail {w}." for w in ["one", "two", "three", "four"]
    ]


def test_content_lines_repeated_on_few_pages_are_kept():
    pages = [f"Synopsis\nbody {i}" for i in range(2)] + [f"Other {i}\nx {i}" for i in range(60)]
    out = strip_repeated_lines(pages)
    assert out[0].startswith("Synopsis")


def test_normalize_pages_end_to_end():
    pages = [
        "Manual\nThe con-\nfiguration \ufb01le.\n1",
        "Manual\nIt has a non-\nzero size.\n2",
        "Manual\nThe configuration is read at start.\n3",
    ]
    assert normalize_pages(pages) == [
        "The configuration file.",
        "It has a non-zero size.",
        "The configuration is read at start.",
    ]
