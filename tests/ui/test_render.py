"""Safe rendering helpers (plus the doctests of the UI's pure helpers)."""

from __future__ import annotations

import doctest
import importlib

import pytest

from src.ui import render, transcript


@pytest.mark.parametrize(
    "name",
    [
        "src.ui.render",
        "src.ui.transcript",
        "src.ui.timings",
        "src.ui.errors",
        "src.ui.auth",
        "src.ui.system",
    ],
)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize(
    "evil",
    [
        "<script>alert(1)</script>",
        "[click me](http://evil.example/x)",
        "![pixel](http://evil.example/p.png)",
        "<img src=x onerror=alert(1)>",
        ":red[styled] :material/home: $x^2$",
        "# Heading\n- item\n> quote\n1. one",
        "http://bare.example www.bare.example user@mail.example",
    ],
)
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
    md = transcript.to_markdown(
        [
            {"role": "user", "content": "Q?"},
            {
                "role": "assistant",
                "content": "A [1].",
                "backend": "llama.cpp",
                "sources": [ScoredChunk(chunk, 0.5)],
                "stopped": True,
            },
        ]
    )
    assert "[1] manual.pdf, pp. 4-5" in md and "Stopped by the user." in md


# --- source text shows literally, in the answer's extract and in the download ------------------
SOURCE = (
    "Mark it with two adjacent '*'s, then *bold* _it_ and `code`; # not a heading, [1](x) <b>no</b>"
)
EXTRACT = (
    "Extract from the sources (no language model was used):\n"
    f"- {SOURCE} [1]\n- A second sentence with __init__ and a ~~tilde~~. [2]"
)


def _html(markdown: str) -> str:
    """The Markdown as a CommonMark renderer draws it (Streamlit's is CommonMark + GFM)."""
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").enable("strikethrough").render(markdown)


def test_the_extract_in_an_answer_renders_literally_with_its_citations_linked():
    md = render.answer_markdown(EXTRACT, turn=1, n_sources=2)
    html = _html(md)
    for tag in ("<em>", "<strong>", "<code>", "<h1>", "<b>", "<del>", "<s>"):
        assert tag not in html, (tag, html)
    assert "two adjacent '*'s" in html and "*bold* _it_ and `code`" in html
    assert "# not a heading" in html and "__init__" in html and "&lt;b&gt;no&lt;/b&gt;" in html
    assert html.count("<li>") == 2  # the extract's sentences stay a list
    assert 'href="#src-1-1"' in html and 'href="#src-1-2"' in html  # citations still link


def test_a_model_s_answer_keeps_its_emphasis_and_the_extract_after_it_is_literal():
    answer = (
        "The interval is **88 days** [1].\n\n"
        "The most relevant sentences of the sources:\n- two adjacent '*'s here * [1]"
    )
    html = _html(render.answer_markdown(answer, turn=2, n_sources=1))
    assert "<strong>88 days</strong>" in html and "two adjacent '*'s here * " in html
    assert "<em>" not in html


def test_the_markdown_download_shows_sources_and_extracts_literally():
    from types import SimpleNamespace as NS

    chunk = NS(doc_name="log_book*v2*.pdf", doc_id="d", pages="p. 2", text=SOURCE + "\n# Tips")
    md = transcript.to_markdown(
        [
            {"role": "user", "content": "How is it marked?"},
            {
                "role": "assistant",
                "content": EXTRACT,
                "backend": "Extractive",
                "answered_by": "source extracts (model m is too small to write)",
                "mode": "extract",
                "sources": [NS(chunk=chunk, score=0.5)],
            },
        ],
        title="T",
    )
    html = _html(md)
    for tag in ("<strong>", "<code>", "<b>", "<h1>Tips"):
        assert tag not in html, (tag, html)
    assert html.count("<em>") == 1 and "<em>Answered by" in html  # only Olympus's own note
    # in the answer, in the claim check (as the Chat page lists it) and in the quoted passage
    assert html.count("two adjacent '*'s") == 3
    assert "Claims checked: 1 of 2 claims supported by the cited passage (✓)" in html
    assert "<li>✓ Mark it with two adjacent" in html and "<s>A second sentence" in html
    assert "log_book*v2*.pdf" in html and "# Tips" in html
    assert "Answered by source extracts (model m is too small to write)." in html


def test_a_name_with_an_at_sign_carries_no_hidden_character():
    """ "@hist_linear" (a SystemTap aggregate) is no link: its rendered text, a chat title
    included, has no invisible character that a copy would take along; an e-mail address and
    a URL still get the link breaker on the page, and a downloaded transcript has none."""
    question = "What is the difference between @hist_linear and @hist_log?"
    for escaped in (
        render.escape_markdown(question),
        render.escape_markdown(question, keep_formatting=True),
    ):
        assert render.WORD_JOINER not in escaped and "@hist" in escaped
    page = render.escape_markdown("write to probe@example.org or see https://example.org")
    assert page.count(render.WORD_JOINER) == 2
    from types import SimpleNamespace as NS

    chunk = NS(
        doc_name="tutorial.pdf",
        doc_id="d",
        pages="p. 5",
        text="Use @hist_linear; mail probe@example.org for https://example.org help.",
    )
    md = transcript.to_markdown(
        [
            {"role": "user", "content": question},
            {
                "role": "assistant",
                "content": "See [1].",
                "backend": "Extractive",
                "sources": [NS(chunk=chunk, score=0.5)],
            },
        ],
        title=question,
    )
    assert render.WORD_JOINER not in md and "probe@example.org" in md


def test_the_markdown_download_keeps_commands_and_urls_copyable():
    # read as plain text, a file full of backslashes cannot be copied from ("chmod \+x",
    # "http\://", "\-array\-add"); only what a viewer would turn into formatting is escaped
    from shared_utils.types import Chunk, ScoredChunk

    text = (
        'In the terminal, type: chmod +x asyEngine.engine; defaults write TeXShop X -array-add "asy"'
        " (see http://developer.apple.com/TOOLS/Xcode/). Two *stars* stay literal."
    )
    chunk = Chunk("d:000001", "d", 1, text, 2, 2, "TeXShopAndAsymptote.pdf")
    md = transcript.to_markdown(
        [
            {"role": "user", "content": "How?"},
            {
                "role": "assistant",
                "content": f"The most relevant sentences of the sources:\n- {text} [1]",
                "backend": "extractive",
                "sources": [ScoredChunk(chunk, 0.5)],
            },
        ]
    )
    for command in (
        "type: chmod +x asyEngine.engine",
        '-array-add "asy"',
        "http://developer.apple.com/TOOLS/Xcode/",
    ):
        assert md.count(command) >= 2, command  # in the answer and in the quoted source
    html = _html(md)
    assert html.count("<em>") == 1 and "*stars*" in html  # only "Answered by": stars literal
