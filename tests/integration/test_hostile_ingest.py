"""Hostile uploads through the real Library: refused with the limit named, library unchanged,
and the parse worker runs without the app's secrets (a PDF parser bug must not hand a
hostile file the keys)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared_utils.errors import DocumentTooLarge, NotAPdf
from tests.fixtures.pdfs import make_flate_bomb_pdf, make_hidden_text_pdf, make_text_pdf

TOKEN = "hf_ShouldNeverReachTheWorker0123456"


def _open(data_dir: Path, **overrides):
    from src.library.library import Library
    from src.settings import load_settings

    return Library.open(load_settings(data_dir=data_dir, **overrides))


def _state(lib) -> tuple:
    return (
        [(d.id, d.name, d.chunks) for d in lib.documents()],
        lib.stores.vectors.count(),
        lib.stores.keywords.count(),
        lib.stores.docstore.pending_documents(),
    )


@pytest.fixture
def library(data_dir, embedder):
    lib = _open(data_dir)
    lib.ingest_bytes(make_text_pdf(["The pump must be primed before use."] * 3), "manual.pdf")
    yield lib
    lib.close()


def test_a_decompression_bomb_is_refused_fast_and_the_library_is_unchanged(library):
    before = _state(library)
    start = time.monotonic()
    with pytest.raises(DocumentTooLarge) as err:
        library.ingest_bytes(make_flate_bomb_pdf(), "bomb.pdf")
    assert time.monotonic() - start < 120  # ~2 s on a quiet machine; a liveness bound
    assert "OLYMPUS_MAX_PAGE_CHARS" in err.value.message and err.value.hint
    assert _state(library) == before
    assert before[0][0][1] == "manual.pdf"


def test_an_empty_upload_says_the_file_is_empty(library):
    before = _state(library)
    with pytest.raises(NotAPdf, match=r"empty\.pdf is not a PDF file: the file is empty"):
        library.ingest_bytes(b"", "empty.pdf")
    assert _state(library) == before


def test_passage_limit_names_its_setting(data_dir, embedder):
    lib = _open(data_dir, max_chunks=3)
    try:
        pages = [f"Section {i}: " + "the valve and the pump and the gauge " * 40 for i in range(6)]
        with pytest.raises(DocumentTooLarge, match=r"the limit is 3 \(OLYMPUS_MAX_CHUNKS\)"):
            lib.ingest_bytes(make_text_pdf(pages), "long.pdf")
        assert lib.documents() == [] and lib.stores.vectors.count() == 0
    finally:
        lib.close()


def test_hidden_text_is_reported_and_not_searchable(library):
    result = library.ingest_bytes(make_hidden_text_pdf(), "hidden.pdf")
    assert "text a reader cannot see was left out on page 1" in result.message
    hits = library.search("INVISIBLEMODE secret instruction WHITEONWHITE TINYFONT OFFPAGE")
    assert hits.results, "the visible text was indexed"
    assert all("secret instruction" not in h.chunk.text for h in hits.results)


def test_the_parse_worker_gets_no_secrets(data_dir, embedder, monkeypatch):
    from shared_utils.documents import parser_process

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("OLYMPUS_PASSWORD", "open-sesame-42")
    lib = _open(data_dir)
    try:
        lib.ingest_bytes(make_text_pdf(["A page about valves."]), "valves.pdf")
        pid = parser_process._worker.pid
        assert pid is not None
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        lib.close()
    assert TOKEN.encode() not in environ and b"open-sesame-42" not in environ
    assert b"HF_TOKEN=" not in environ and b"PATH=" in environ
