"""The original PDF is kept for the page viewer: stored by content, counted in the size the
user sees, deleted with the document, on a rolled-back ingest and after a crash."""

from __future__ import annotations

import json

import pytest

from shared_utils.errors import StoreUnavailable
from src.library.library import Library
from src.settings import load_settings
from tests.fixtures.pdfs import make_text_pdf
from tests.integration.test_cli import run


def _pdf(topic: str) -> bytes:
    return make_text_pdf([f"{topic} is explained on this page, with care and in detail. " * 4])


@pytest.fixture
def lib(tmp_path, embedder):
    library = Library.open(load_settings(data_dir=tmp_path / "data"))
    yield library
    library.close()


def test_the_original_is_kept_listed_and_deleted_with_the_document(lib, tmp_path):
    data = _pdf("Axolotl gill care")
    doc = lib.ingest_bytes(data, "axolotl.pdf").doc
    assert lib.originals.read(doc.id) == data
    assert (tmp_path / "data" / "originals" / f"{doc.id}.pdf").is_file()
    assert lib.originals.stored_bytes(doc.id) == len(data)
    lib.close()

    listed = json.loads(run(tmp_path / "data", "docs", "list", "--json").stdout)
    assert listed[0]["stored_bytes"] == len(data)
    assert listed[0]["parse_report"]["text_pages"] == 1
    assert listed[0]["parse_report"]["ocr_pages"] == []

    again = Library.open(load_settings(data_dir=tmp_path / "data"))
    try:
        again.delete_document(doc.id)
        assert not again.originals.has(doc.id)
        assert not list((tmp_path / "data" / "originals").iterdir())
    finally:
        again.close()


def test_a_rolled_back_ingest_leaves_no_original(lib, tmp_path, monkeypatch):
    def broken_add(chunks):
        raise StoreUnavailable("disk full (simulated)")

    monkeypatch.setattr(lib.stores.keywords, "add", broken_add)
    with pytest.raises(StoreUnavailable):
        lib.ingest_bytes(_pdf("Gecko terrarium humidity"), "g.pdf")
    assert lib.documents() == []
    assert not list((tmp_path / "data" / "originals").glob("*"))


def test_originals_left_by_a_crash_are_removed_at_start(lib, tmp_path):
    kept = lib.ingest_bytes(_pdf("Newt pond depth"), "newt.pdf").doc
    orphan = tmp_path / "data" / "originals" / ("ab" * 32 + ".pdf")
    orphan.write_bytes(b"%PDF-1.4 left by a kill -9")
    lib.close()
    reopened = Library.open(load_settings(data_dir=tmp_path / "data"))
    try:
        assert not orphan.exists()
        assert reopened.originals.has(kept.id)
    finally:
        reopened.close()
