"""Safe rendering helpers (plus the doctests of the UI's pure helpers)."""

from __future__ import annotations

import doctest
import importlib

import pytest

from src.ui import render, transcript


@pytest.mark.parametrize("name", ["src.ui.render", "src.ui.transcript", "src.ui.timings",
                                  "src.ui.errors", "src.ui.auth", "src.ui.system"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("evil", [
    "<script>alert(1)</script>",
    "[click me](http://evil.example/x)",
    "![pixel](http://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
    ":red[styled] :material/home: $x^2$",
    "# Heading\n- item\n> quote\n1. one",
    "http://bare.example www.bare.example user@mail.example",
])
def test_document_text_renders_literally(evil):
    escaped = render.escape_markdown(evil)
    # every special character is escaped: removing the escapes gives the text back
    import re

    assert re.sub(r"\\(.)", r"\1", escaped).replace("\u2060", "").replace("  \n", "\n") == evil
    assert "](" not in escaped and "<" not in escaped.replace("\\<", "")
    assert "://" not in escaped.replace("\u2060\\://", "")  # no bare URL left to autolink


def test_answer_keeps_emphasis_but_not_links_or_html():
    md = render.answer_markdown("**Yes** [2], see [x](http://a) <b>hi</b>", turn=3, n_sources=2)
    assert md.startswith("**Yes** [\\[2\\]](#src-3-2)")
    assert "\\[x\\]" in md and "\\<b\\>" in md


def test_highlight_marks_whole_words_only():
    md = render.highlight("The UPS upsets nobody; ups!", ["ups"])
    assert md.count(":orange-background[") == 2 and "upsets" in md


def test_transcript_lists_sources_with_pages():
    from shared_utils.types import Chunk, ScoredChunk

    chunk = Chunk("d:000001", "d", 1, "text", 4, 5, "manual.pdf")
    md = transcript.to_markdown([
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": "A [1].", "backend": "llama.cpp",
         "sources": [ScoredChunk(chunk, 0.5)], "stopped": True},
    ])
    assert "[1] manual.pdf, pp. 4-5" in md and "Stopped by the user." in md
