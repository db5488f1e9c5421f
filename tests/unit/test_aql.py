"""AQL safety: every query takes user input only through bind variables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared_utils.retrieval.arango_search import ArangoSearchKeywordIndex
from shared_utils.stores import aql
from shared_utils.stores.arango import ArangoDocumentStore
from shared_utils.types import Chunk, DocumentRecord

EVIL = 'x" || 1 == 1 || "'


class RecordingAQL:
    """Stands in for python-arango's ``db.aql``: records (query, bind_vars) and checks them."""

    def __init__(self, log: list[tuple[str, dict[str, Any]]]) -> None:
        self.log = log

    def execute(self, query: str, bind_vars: dict[str, Any] | None = None, **_: Any) -> Iterator:
        bind_vars = bind_vars or {}
        assert query in aql.ALL_QUERIES.values(), "query is not one of the vetted constants"
        assert aql.bind_names(query) == set(bind_vars), (aql.bind_names(query), set(bind_vars))
        self.log.append((query, bind_vars))
        return iter([])


class RecordingCollection:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def insert(self, doc: dict) -> None:
        self.calls.append(("insert", doc))

    def update(self, doc: dict) -> None:
        self.calls.append(("update", doc))

    def import_bulk(self, docs: list, **kw: Any) -> None:
        self.calls.append(("import_bulk", docs))

    def get(self, key: str) -> dict | None:
        self.calls.append(("get", key))
        return {"_key": key, "status": "ingesting"} if key == "d1" else None

    def count(self) -> int:
        return 0


class RecordingDB:
    def __init__(self) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.aql = RecordingAQL(self.log)
        self.collections: dict[str, RecordingCollection] = {}
        self.committed = 0

    def collection(self, name: str) -> RecordingCollection:
        return self.collections.setdefault(name, RecordingCollection())

    def begin_transaction(self, **_: Any) -> RecordingDB:
        return self

    def commit_transaction(self) -> None:
        self.committed += 1

    def abort_transaction(self) -> None:  # pragma: no cover - only on failure
        raise AssertionError("transaction aborted")


@pytest.mark.parametrize("name", sorted(aql.ALL_QUERIES))
def test_queries_are_constants_with_bind_variables(name):
    query = aql.ALL_QUERIES[name]
    assert "{}" not in query and "%s" not in query and "{0" not in query
    if name not in {"LIST_READY", "PENDING_IDS", "READY_IDS", "ITER_CHUNKS"}:
        assert aql.bind_names(query), f"{name} takes no input through bind variables"


def test_user_input_only_travels_in_bind_vars():
    db = RecordingDB()
    store = ArangoDocumentStore(db, create_schema=False)
    store.delete_document(EVIL)
    store.get_chunks([EVIL])
    store.neighbours(EVIL, hops=2)
    ArangoSearchKeywordIndex(db).search(EVIL, k=5, doc_ids=frozenset({EVIL}))
    assert db.log, "no query was run"
    for query, bind in db.log:
        assert EVIL not in query
        assert EVIL in repr(bind)
    assert db.committed == 1  # the delete ran as one transaction


def test_chunks_are_bulk_imported_with_graph_edges():
    db = RecordingDB()
    store = ArangoDocumentStore(db, create_schema=False)
    doc = DocumentRecord(id="d1", name="a.pdf", pages=2, chunks=0, size_bytes=10, added_at=1.0)
    store.begin_document(doc)
    chunks = [
        Chunk(id=f"d1:{i:06d}", doc_id="d1", ordinal=i, text="t", page_start=1, page_end=1)
        for i in (3, 4)
    ]
    store.add_chunks("d1", chunks)
    ((_, has_chunk),) = db.collection(aql.HAS_CHUNK).calls
    ((_, nexts),) = db.collection(aql.NEXT).calls
    assert [e["_to"] for e in has_chunk] == ["chunks/d1:000003", "chunks/d1:000004"]
    # the first chunk of a batch links back to the last chunk of the previous batch
    assert nexts[0] == {"_from": "chunks/d1:000002", "_to": "chunks/d1:000003"}
    inserts = [c for c in db.collection(aql.DOCUMENTS).calls if c[0] == "insert"]
    assert inserts[0][1]["status"] == "ingesting"


def test_arango_keyword_leg_needs_the_arango_store(tmp_path):
    from shared_utils.errors import SettingsError
    from src.library.stores import open_stores
    from src.settings import load_settings

    s = load_settings(data_dir=tmp_path, keyword_index="arango")
    with pytest.raises(SettingsError, match="OLYMPUS_ARANGO_URL"):
        open_stores(s, dimension=8)
