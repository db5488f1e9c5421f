"""Contract of shared_utils/stores/base.py: every document store behaves the same way."""

from __future__ import annotations

import threading
import time

import pytest

from shared_utils.errors import DocumentNotFound
from shared_utils.types import Chunk, DocumentRecord


def doc(doc_id: str = "d1", name: str = "manual.pdf", added: float | None = None) -> DocumentRecord:
    return DocumentRecord(
        id=doc_id,
        name=name,
        pages=0,
        chunks=0,
        size_bytes=1234,
        added_at=time.time() if added is None else added,
    )


def chunks(doc_id: str, n: int, start: int = 0) -> list[Chunk]:
    return [
        Chunk(
            id=f"{doc_id}:{i:06d}",
            doc_id=doc_id,
            ordinal=i,
            text=f"text {doc_id} {i}",
            page_start=i + 1,
            page_end=i + 2,
        )
        for i in range(start, start + n)
    ]


def ingest(store, doc_id: str = "d1", n: int = 5, name: str = "manual.pdf", added=None) -> None:
    store.begin_document(doc(doc_id, name, added))
    store.add_chunks(doc_id, chunks(doc_id, n))
    store.mark_ready(doc_id, pages=n + 1, chunks=n)


def test_pending_document_is_invisible_until_ready(store):
    store.begin_document(doc("d1"))
    store.add_chunks("d1", chunks("d1", 3))
    assert store.list_documents() == []
    assert store.ready_ids() == set()
    assert store.get_chunks(["d1:000000"]) == []
    assert store.pending_documents() == ["d1"]
    assert store.get_document("d1").status == "ingesting"

    store.mark_ready("d1", pages=4, chunks=3)
    [listed] = store.list_documents()
    assert (
        listed.id,
        listed.name,
        listed.pages,
        listed.chunks,
        listed.size_bytes,
        listed.status,
    ) == ("d1", "manual.pdf", 4, 3, 1234, "ready")
    assert store.ready_ids() == {"d1"}
    assert store.pending_documents() == []


def test_chunks_round_trip_in_the_order_asked(store):
    ingest(store, "d1", 4, name="guide.pdf")
    got = store.get_chunks(["d1:000002", "missing", "d1:000000"])
    assert [c.id for c in got] == ["d1:000002", "d1:000000"]
    assert got[0] == Chunk(
        id="d1:000002",
        doc_id="d1",
        ordinal=2,
        text="text d1 2",
        page_start=3,
        page_end=4,
        doc_name="guide.pdf",
    )


def test_list_documents_is_newest_first(store):
    ingest(store, "old", 1, added=1000.0)
    ingest(store, "new", 1, added=2000.0)
    assert [d.id for d in store.list_documents()] == ["new", "old"]


def test_neighbours_follow_next_links_both_ways_within_a_document(store):
    ingest(store, "d1", 6)
    ingest(store, "d2", 3)
    assert [c.ordinal for c in store.neighbours("d1:000003", 1)] == [2, 4]
    assert [c.ordinal for c in store.neighbours("d1:000003", 2)] == [1, 2, 4, 5]
    assert [c.ordinal for c in store.neighbours("d1:000000", 2)] == [1, 2]
    assert {c.doc_id for c in store.neighbours("d1:000005", 3)} == {"d1"}
    assert store.neighbours("d1:000003", 0) == []
    assert store.neighbours("unknown", 1) == []


def test_chunks_added_in_batches_stay_linked(store):
    store.begin_document(doc("d1"))
    store.add_chunks("d1", chunks("d1", 3))
    store.add_chunks("d1", chunks("d1", 3, start=3))
    store.mark_ready("d1", pages=6, chunks=6)
    assert [c.ordinal for c in store.neighbours("d1:000002", 1)] == [1, 3]


def test_delete_removes_document_chunks_and_links(store):
    ingest(store, "d1", 4)
    ingest(store, "d2", 2)
    assert store.delete_document("d1") is True
    assert store.get_document("d1") is None
    assert store.get_chunks(["d1:000000", "d2:000000"])[0].doc_id == "d2"
    assert store.neighbours("d1:000001", 2) == []
    assert store.ready_ids() == {"d2"}
    assert store.delete_document("d1") is False
    # The same document can be ingested again after deletion.
    ingest(store, "d1", 2)
    assert [c.ordinal for c in store.neighbours("d1:000000", 1)] == [1]


def test_delete_of_a_pending_document_clears_it(store):
    store.begin_document(doc("d1"))
    store.add_chunks("d1", chunks("d1", 3))
    assert store.delete_document("d1") is True
    assert store.pending_documents() == []
    ingest(store, "d1", 3)
    assert len(store.get_chunks([c.id for c in chunks("d1", 3)])) == 3


def test_begin_replaces_a_previous_pending_record(store):
    store.begin_document(doc("d1", name="first.pdf"))
    store.add_chunks("d1", chunks("d1", 3))
    store.begin_document(doc("d1", name="second.pdf"))
    store.add_chunks("d1", chunks("d1", 2))
    store.mark_ready("d1", pages=2, chunks=2)
    assert store.get_document("d1").name == "second.pdf"
    assert len(store.get_chunks([c.id for c in chunks("d1", 3)])) == 2


def test_iter_chunks_yields_every_ready_chunk_in_batches(store):
    ingest(store, "d1", 7)
    ingest(store, "d2", 5)
    store.begin_document(doc("pending"))
    store.add_chunks("pending", chunks("pending", 2))
    batches = list(store.iter_chunks(batch_size=4))
    assert all(len(b) <= 4 for b in batches)
    ids = [c.id for b in batches for c in b]
    assert sorted(ids) == sorted([c.id for c in chunks("d1", 7)] + [c.id for c in chunks("d2", 5)])


def test_everything_persists_across_reopen(store_factory):
    first = store_factory()
    ingest(first, "d1", 3, name="kept.pdf")
    first.begin_document(doc("half"))
    first.add_chunks("half", chunks("half", 2))
    first.close()
    second = store_factory()
    assert [d.name for d in second.list_documents()] == ["kept.pdf"]
    assert second.pending_documents() == ["half"]
    assert [c.ordinal for c in second.neighbours("d1:000001", 1)] == [0, 2]


def test_concurrent_writers_and_readers_do_not_corrupt(store):
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            ingest(store, f"w{i}", 20)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(50):
                store.list_documents()
                store.ready_ids()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.ready_ids() == {f"w{i}" for i in range(6)}


def test_health_reports_ok(store):
    health = store.health()
    assert health["ok"] is True and isinstance(health["detail"], str)


def test_add_chunks_to_unknown_document_fails(store):
    with pytest.raises(DocumentNotFound):
        store.add_chunks("nope", chunks("nope", 1))
    assert store.get_chunks(["nope:000000"]) == []


def test_parse_report_is_stored_with_the_document(store):
    report = {
        "pages": 3,
        "text_pages": 1,
        "ocr_pages": [2, 3],
        "flagged": {"3": "garbled"},
        "failed": {},
        "hidden_text_dropped": 0,
        "ocr": "tesseract (eng)",
    }
    record = doc("d1")
    record.parse_report = report
    store.begin_document(record)
    store.add_chunks("d1", chunks("d1", 2))
    store.mark_ready("d1", pages=3, chunks=2)
    assert store.get_document("d1").parse_report == report
    assert store.list_documents()[0].parse_report == report
    ingest(store, "d2", 1)  # a document without a report lists an empty one
    assert store.get_document("d2").parse_report == {}


def test_pages_read_later_join_a_ready_document_with_their_report(store):
    ingest(store, "d1", 3)  # ordinals 0-2 (pages 1-4)
    late = [
        Chunk(id=f"d1:{i:06d}", doc_id="d1", ordinal=i, text=f"ocr {i}", page_start=9, page_end=9)
        for i in (3, 4)
    ]
    store.append_chunks("d1", late, parse_report={"ocr_pages": [9], "ocr_pending": []})

    [listed] = store.list_documents()
    assert listed.chunks == 5 and listed.parse_report["ocr_pages"] == [9]
    assert [c.text for c in store.get_chunks(["d1:000003", "d1:000004"])] == ["ocr 3", "ocr 4"]
    # linked among themselves, not to the text pages' last chunk (page 3, not page 8)
    assert [c.id for c in store.neighbours("d1:000004")] == ["d1:000003"]
    assert [c.id for c in store.neighbours("d1:000003")] == ["d1:000004"]
    # no chunks: only the report changes (an OCR that gave nothing)
    store.append_chunks("d1", [], parse_report={"failed": {"9": "OCR failed"}})
    assert store.get_document("d1").parse_report == {"failed": {"9": "OCR failed"}}
    assert store.get_document("d1").chunks == 5


def test_append_to_a_document_not_in_the_library_fails(store):
    store.begin_document(doc("d1"))  # still pending: not in the library yet
    with pytest.raises(DocumentNotFound):
        store.append_chunks("d1", chunks("d1", 1, start=5), parse_report={})
    with pytest.raises(DocumentNotFound):
        store.append_chunks("nope", [], parse_report={})
