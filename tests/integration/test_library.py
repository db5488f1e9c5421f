"""The Library end to end: real PDFs, real embedding model, Milvus Lite, BM25 and SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared_utils.errors import (
    CorruptPdf,
    DocumentNotFound,
    EmptyPdf,
    EncryptedPdf,
    FileTooLarge,
    InvalidFileName,
    InvalidQuery,
    NoExtractableText,
    NotAPdf,
    StoreUnavailable,
)
from shared_utils.retrieval.base import Query
from shared_utils.retrieval.hybrid import HybridRetriever
from src.library.library import Library
from src.settings import load_settings
from tests.conftest import real_pdf
from tests.fixtures.pdfs import (
    make_encrypted_pdf,
    make_image_only_pdf,
    make_text_pdf,
    make_truncated_pdf,
    make_zero_page_pdf,
)

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [  # phrased as a user would ask, with the page(s) of the systemtap tutorial holding the answer
    ("What stops a probe handler from looping forever?", {10}),
    ("How can I watch reads and writes to one particular file?", {7, 8}),
    ("How do tapset authors avoid clashes between function names?", {15}),
]


def small_pdf(topic: str, pages: int = 1) -> bytes:
    return make_text_pdf(
        [
            f"{topic} Page {i + 1} explains the {topic.split()[0]} setting in detail. " * 3
            for i in range(pages)
        ]
    )


@pytest.fixture(scope="module")
def lib(tmp_path_factory, embedder):
    data = tmp_path_factory.mktemp("library")
    library = Library.open(load_settings(data_dir=data))
    events = []
    result = library.ingest_file(
        real_pdf("systemtap_tutorial"), progress=lambda p: events.append(p)
    )
    library.first = (result, events)  # type: ignore[attr-defined]
    yield library
    library.close()


def snapshot(lib: Library) -> tuple:
    return (
        {d.id for d in lib.documents()},
        lib.stores.vectors.count(),
        lib.stores.keywords.count(),
        lib.docstore.pending_documents(),
    )


def assert_nothing_lost(lib: Library, before: tuple) -> None:
    assert snapshot(lib) == before
    top = lib.search(QUESTIONS[0][0], k=3).results
    assert any(
        h.chunk.doc_name == "SystemTap_tutorial.pdf" or "tutorial" in h.chunk.doc_name for h in top
    )


def test_ingest_of_a_real_manual_reports_pages_chunks_progress_and_timings(lib):
    result, events = lib.first
    assert result.status == "added" and result.doc.status == "ready"
    assert result.doc.pages == 18 and result.doc.chunks > 18
    assert set(result.timings) >= {"parse_ms", "chunk_ms", "embed_ms", "store_ms", "total_ms"}
    stages = list(dict.fromkeys(e.stage for e in events))
    assert stages == ["parse", "chunk", "embed", "store", "done"]
    embed = [e for e in events if e.stage == "embed"]
    assert embed[-1].done == embed[-1].total == result.doc.chunks
    [listed] = [d for d in lib.documents() if d.id == result.doc.id]
    assert listed.name == "tutorial.pdf" and listed.chunks == result.doc.chunks
    assert lib.stores.vectors.count() >= result.doc.chunks


def test_reupload_is_detected_and_skipped(lib):
    before = snapshot(lib)
    again = lib.ingest_bytes(real_pdf("systemtap_tutorial").read_bytes(), "renamed copy.pdf")
    assert again.status == "duplicate"
    assert "already in the library" in again.message and "tutorial.pdf" in again.message
    assert snapshot(lib) == before


@pytest.mark.parametrize("question,gold", QUESTIONS)
def test_search_finds_the_page_that_answers_a_real_question(lib, question, gold):
    result = lib.search(question, k=3)
    spans = [set(range(h.chunk.page_start, h.chunk.page_end + 1)) for h in result.results]
    assert any(span & gold for span in spans), (question, [h.chunk.pages for h in result.results])
    top = result.results[0]
    assert top.chunk.doc_name == "tutorial.pdf" and top.ranks and top.score > 0
    assert set(result.timings) == {"embed_ms", "dense_ms", "bm25_ms", "fuse_ms", "total_ms"}


def test_single_legs_and_scope_by_document(lib):
    other = lib.ingest_bytes(small_pdf("Quokka firmware upgrade procedure for the rack."), "q.pdf")
    assert other.status == "added"
    only_other = lib.search("quokka firmware", k=5, doc_ids=[other.doc.id]).results
    assert only_other and {h.chunk.doc_id for h in only_other} == {other.doc.id}
    tutorial = lib.first[0].doc.id
    assert {
        h.chunk.doc_id for h in lib.search("quokka firmware", k=5, doc_ids=[tutorial]).results
    } == {tutorial}
    assert lib.retriever.keyword(Query("quokka firmware", k=1))[0].ranks == {"bm25": 1}
    assert lib.retriever.dense(Query("quokka firmware", k=1))[0].chunk.doc_id == other.doc.id
    lib.delete_document(other.doc.id)


def test_neighbour_expansion_widens_hits_with_adjacent_chunks(lib):
    kwargs = {
        "embedder": lib.embedder,
        "vectors": lib.stores.vectors,
        "keywords": lib.stores.keywords,
        "docstore": lib.docstore,
    }
    plain = HybridRetriever(**kwargs).retrieve(Query(QUESTIONS[1][0], k=2))
    wide = HybridRetriever(**kwargs, neighbour_hops=1).retrieve(Query(QUESTIONS[1][0], k=2))
    assert [h.chunk.id for h in plain] == [h.chunk.id for h in wide]
    for p, w in zip(plain, wide, strict=True):
        assert len(w.chunk.text) > len(p.chunk.text)
        assert w.chunk.page_start <= p.chunk.page_start and w.chunk.page_end >= p.chunk.page_end
        assert p.chunk.text[len(p.chunk.text) // 2 :][:60] in w.chunk.text


def test_delete_removes_the_document_from_every_store(lib):
    before = snapshot(lib)
    added = lib.ingest_bytes(small_pdf("Zebrafish aquarium heater calibration."), "z.pdf").doc
    assert lib.stores.vectors.count() == before[1] + added.chunks
    removed = lib.delete_document(added.id)
    assert removed.name == "z.pdf"
    assert snapshot(lib) == before
    assert lib.search("zebrafish heater", k=5, doc_ids=[added.id]).results == []
    assert lib.docstore.get_chunks([f"{added.id}:000000"]) == []
    with pytest.raises(DocumentNotFound):
        lib.delete_document(added.id)


BAD_FILES = {
    "renamed text file": (b"just some text, not a pdf\n" * 20, NotAPdf),
    "truncated pdf": (make_truncated_pdf(["Truncated halfway through the file."] * 3), CorruptPdf),
    "encrypted pdf": (make_encrypted_pdf(["Secret text."]), EncryptedPdf),
    "scanned pdf (no text)": (make_image_only_pdf(2), NoExtractableText),
    "zero-page pdf": (make_zero_page_pdf(), EmptyPdf),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_gives_a_clear_error_and_loses_nothing(lib, case):
    data, error = BAD_FILES[case]
    before = snapshot(lib)
    with pytest.raises(error) as info:
        lib.ingest_bytes(data, f"{case}.pdf")
    assert info.value.hint
    assert_nothing_lost(lib, before)


def test_scanned_pdf_says_ocr_is_not_available(lib):
    with pytest.raises(NoExtractableText, match="OCR"):
        lib.ingest_bytes(make_image_only_pdf(1), "scan.pdf")


def test_file_over_the_size_limit_is_refused_before_reading_it(lib, tmp_path):
    before = snapshot(lib)
    big = tmp_path / "big.pdf"
    with open(big, "wb") as fh:  # sparse: 101 MB that is never read
        fh.truncate((lib.settings.max_upload_mb + 1) * 1024 * 1024)
    start = time.perf_counter()
    with pytest.raises(FileTooLarge, match="limit is 100 MB"):
        lib.ingest_file(big)
    assert time.perf_counter() - start < 10  # a liveness bound; no bytes read is the point
    with pytest.raises(FileTooLarge):
        lib.ingest_bytes(b"%PDF-1.4" + bytes(101 * 1024 * 1024), "upload.pdf")
    assert_nothing_lost(lib, before)


def test_unsafe_file_names_become_safe_display_names(lib, tmp_path):
    before = snapshot(lib)
    names = {
        "../../etc/cron.d/evil.pdf": "evil.pdf",
        "bad\x1b[31m\x00name\n.pdf": "bad [31m name .pdf",
    }
    for i, (raw, shown) in enumerate(names.items()):
        doc = lib.ingest_bytes(small_pdf(f"Walrus{i} maintenance notes."), raw).doc
        assert doc.name == shown
        lib.delete_document(doc.id)
    folder = tmp_path / "odd"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"caf\xe9 \xff.pdf"), "wb") as fh:
        fh.write(small_pdf("Narwhal tusk polishing guide."))
    [outcome] = lib.ingest_paths([folder])
    assert outcome.ok and outcome.result.doc.name == "caf_ _.pdf"
    lib.delete_document(outcome.result.doc.id)
    with pytest.raises(InvalidFileName):
        lib.ingest_bytes(small_pdf("Nothing."), "../..")
    assert_nothing_lost(lib, before)


@pytest.mark.parametrize("query", ["", "   \n\t "])
def test_empty_query_is_invalid(lib, query):
    with pytest.raises(InvalidQuery, match="empty"):
        lib.search(query)


def test_a_10000_character_query_is_a_clear_error_not_a_crash(lib):
    start = time.perf_counter()
    with pytest.raises(InvalidQuery, match="10,000 characters") as info:
        lib.search("why?" * 2500)
    assert "OLYMPUS_MAX_QUERY_CHARS" in info.value.hint
    assert time.perf_counter() - start < 10  # liveness bounds (load-proof), not speed targets
    # Just under the limit still works.
    start = time.perf_counter()
    assert lib.search(("probe handler loop " * 200)[:1990], k=3).results
    assert time.perf_counter() - start < 60


def test_folder_with_one_bad_file_ingests_the_others(lib, tmp_path):
    before = snapshot(lib)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.pdf").write_bytes(small_pdf("Axolotl tank filter cleaning."))
    (folder / "sub" / "b.PDF").write_bytes(small_pdf("Bonobo enclosure lighting schedule."))
    (folder / "broken.pdf").write_bytes(b"not a pdf at all")
    (folder / "notes.txt").write_text("ignored")
    outcomes = lib.ingest_paths([folder, tmp_path / "missing.pdf"])
    by_name = {o.path.name: o for o in outcomes}
    assert set(by_name) == {"a.pdf", "b.PDF", "broken.pdf", "missing.pdf"}
    assert by_name["a.pdf"].ok and by_name["b.PDF"].ok
    assert isinstance(by_name["broken.pdf"].error, NotAPdf)
    assert by_name["missing.pdf"].error is not None
    for o in outcomes:
        if o.ok:
            lib.delete_document(o.result.doc.id)
    assert snapshot(lib) == before


def test_a_store_failure_mid_ingest_rolls_everything_back(lib, monkeypatch):
    before = snapshot(lib)

    def broken_add(chunks):
        raise StoreUnavailable("disk full (simulated)")

    monkeypatch.setattr(lib.stores.keywords, "add", broken_add)
    with pytest.raises(StoreUnavailable):
        lib.ingest_bytes(small_pdf("Gecko terrarium humidity."), "g.pdf")
    monkeypatch.undo()
    assert_nothing_lost(lib, before)


def test_documents_persist_across_restart(tmp_path, embedder):
    settings = load_settings(data_dir=tmp_path / "data")
    first = Library.open(settings)
    doc = first.ingest_bytes(small_pdf("Pelican beak hygiene checklist.", pages=2), "p.pdf").doc
    first.close()
    second = Library.open(settings)
    try:
        assert [d.id for d in second.documents()] == [doc.id]
        hits = second.search("pelican beak hygiene", k=2).results
        assert hits and hits[0].chunk.doc_id == doc.id and hits[0].ranks.keys() == {"bm25", "dense"}
        assert (
            second.ingest_bytes(
                small_pdf("Pelican beak hygiene checklist.", pages=2), "again.pdf"
            ).status
            == "duplicate"
        )
    finally:
        second.close()
    for f in (tmp_path / "data").glob("keywords.sqlite3*"):  # lost keyword index: rebuilt
        f.unlink()
    third = Library.open(settings)
    try:
        assert third.stores.keywords.count() == doc.chunks
        assert third.search("pelican beak hygiene", k=2).results[0].ranks.keys() == {
            "bm25",
            "dense",
        }
    finally:
        third.close()


KILL_SCRIPT = """
import sys, time
from src.library.library import Library
from src.settings import load_settings
from tests.fixtures.pdfs import make_text_pdf
lib = Library.open(load_settings(data_dir=sys.argv[1]))
data = make_text_pdf([f"Ocelot feeding schedule page {i}. " * 20 for i in range(6)])
def progress(p):
    print(p.stage, p.done, flush=True)
    if p.stage == "store" and p.done >= 3:  # pending record, vectors and keywords written
        time.sleep(600)
lib.ingest_bytes(data, "doomed.pdf", progress=progress)
"""


def test_kill_9_mid_ingest_leaves_nothing_visible_after_reopen(tmp_path, embedder):
    from shared_utils.retrieval.bm25 import BM25Index
    from shared_utils.stores.sqlite import SQLiteDocumentStore

    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(data)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.startswith("store 3"):
                break
        else:
            pytest.fail(f"the ingest never reached the store step (exit {proc.wait()})")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    # The kill left a pending document with keywords (and vectors) written...
    docstore = SQLiteDocumentStore(data / "docstore.sqlite3")
    assert len(docstore.pending_documents()) == 1 and docstore.list_documents() == []
    docstore.close()
    keywords = BM25Index(data / "keywords.sqlite3")
    assert keywords.count() > 0
    keywords.close()
    # ...which reopening removes from every store.
    lib = Library.open(load_settings(data_dir=data))
    try:
        assert lib.documents() == [] and lib.docstore.pending_documents() == []
        assert lib.stores.vectors.count() == 0 and lib.stores.keywords.count() == 0
        assert lib.search("ocelot feeding schedule", k=3).results == []
        again = lib.ingest_bytes(
            make_text_pdf([f"Ocelot feeding schedule page {i}. " * 20 for i in range(6)]),
            "doomed.pdf",
        )
        assert again.status == "added"
        assert lib.search("ocelot feeding schedule", k=3).results[0].chunk.doc_name == "doomed.pdf"
    finally:
        lib.close()


def test_opening_and_listing_does_not_load_torch_or_milvus(tmp_path):
    code = (
        "import sys\nfrom src.library.library import Library\nfrom src.settings import load_settings\n"
        f"lib = Library.open(load_settings(data_dir={str(tmp_path / 'data')!r}))\n"
        "print(lib.documents(), lib.docstore.health()['ok'])\nlib.close()\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'pymilvus') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-2:] == ["[] True", "[]"]  # (structlog may print first)
