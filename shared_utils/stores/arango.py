"""ArangoDB document store (python-arango): documents, chunks and the graph that links them.

Collections ``documents`` and ``chunks``; edge collections ``has_chunk`` (document -> chunk)
and ``next`` (chunk -> following chunk); a named graph over them. Bulk writes use
``import_bulk``; deleting a document runs in one stream transaction, so a failure leaves
nothing half-deleted. Neighbour expansion is a graph traversal. All AQL lives in ``aql.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import structlog

from shared_utils.errors import DocumentNotFound, StoreUnavailable
from shared_utils.redact import redact, strip_url_credentials
from shared_utils.stores import aql
from shared_utils.stores.base import DocumentStore
from shared_utils.types import Chunk, DocumentRecord, chunk_id

logger = structlog.get_logger(__name__)


@contextmanager
def arango_errors(action: str) -> Iterator[None]:
    """The one place where python-arango and transport failures become StoreUnavailable."""
    from arango.exceptions import ArangoError
    from requests.exceptions import RequestException

    try:
        yield
    except ArangoError as exc:
        code = getattr(exc, "http_code", None)
        if code in (401, 403):
            raise StoreUnavailable(
                f"ArangoDB refused the credentials while trying to {action}",
                hint="Check OLYMPUS_ARANGO_USER and OLYMPUS_ARANGO_PASSWORD.",
            ) from exc
        raise StoreUnavailable(f"ArangoDB failed to {action}: {redact(str(exc))}") from exc
    except RequestException as exc:
        raise StoreUnavailable(
            f"ArangoDB is unreachable while trying to {action}",
            hint="Check that ArangoDB runs and OLYMPUS_ARANGO_URL points at it.",
        ) from exc


def connect(url: str, db_name: str, user: str, password: str, *, timeout_s: float = 10.0) -> Any:
    """Open (creating if needed) the database and return a python-arango database handle."""
    from arango import ArangoClient

    client = ArangoClient(hosts=url, request_timeout=timeout_s)
    with arango_errors(f"connect to {strip_url_credentials(url)}"):
        sys_db = client.db("_system", username=user, password=password, verify=True)
        if not sys_db.has_database(db_name):
            sys_db.create_database(db_name)
        return client.db(db_name, username=user, password=password, verify=True)


def ensure_schema(db: Any) -> None:
    """Create collections, indexes, graph and search view when missing (idempotent)."""
    with arango_errors("create the schema"):
        for name in (aql.DOCUMENTS, aql.CHUNKS):
            if not db.has_collection(name):
                db.create_collection(name)
        for name in (aql.HAS_CHUNK, aql.NEXT):
            if not db.has_collection(name):
                db.create_collection(name, edge=True)
        db.collection(aql.CHUNKS).add_index(
            {"type": "persistent", "fields": ["doc_id", "ordinal"], "name": "by_doc"}
        )
        db.collection(aql.DOCUMENTS).add_index(
            {"type": "persistent", "fields": ["status"], "name": "by_status"}
        )
        if not db.has_graph(aql.GRAPH):
            db.create_graph(
                aql.GRAPH,
                edge_definitions=[
                    {
                        "edge_collection": aql.HAS_CHUNK,
                        "from_vertex_collections": [aql.DOCUMENTS],
                        "to_vertex_collections": [aql.CHUNKS],
                    },
                    {
                        "edge_collection": aql.NEXT,
                        "from_vertex_collections": [aql.CHUNKS],
                        "to_vertex_collections": [aql.CHUNKS],
                    },
                ],
            )
        if not any(v["name"] == aql.VIEW for v in db.views()):
            db.create_view(
                aql.VIEW,
                "arangosearch",
                {"links": {aql.CHUNKS: {"fields": {"text": {"analyzers": ["text_en"]}}}}},
            )


def _chunk_doc(chunk: Chunk) -> dict[str, Any]:
    return {
        "_key": chunk.id,
        "doc_id": chunk.doc_id,
        "ordinal": chunk.ordinal,
        "text": chunk.text,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
    }


def _to_chunk(doc: dict[str, Any]) -> Chunk:
    return Chunk(
        id=doc["_key"],
        doc_id=doc["doc_id"],
        ordinal=int(doc["ordinal"]),
        text=doc["text"],
        page_start=int(doc["page_start"]),
        page_end=int(doc["page_end"]),
        doc_name=doc.get("doc_name", ""),
    )


def _to_record(doc: dict[str, Any]) -> DocumentRecord:
    return DocumentRecord(
        id=doc["_key"],
        name=doc["name"],
        pages=int(doc.get("pages", 0)),
        chunks=int(doc.get("chunks", 0)),
        size_bytes=int(doc.get("size_bytes", 0)),
        added_at=float(doc.get("added_at", 0.0)),
        status=doc.get("status", "ingesting"),
        parse_report=dict(doc.get("parse_report") or {}),
    )


class ArangoDocumentStore(DocumentStore):
    """DocumentStore on ArangoDB. ``db`` is a python-arango database (see ``connect``)."""

    name = "arangodb"

    def __init__(self, db: Any, *, create_schema: bool = True) -> None:
        self.db = db
        self._lock = threading.Lock()
        if create_schema:
            ensure_schema(db)

    @classmethod
    def connect(cls, url: str, db_name: str, user: str, password: str) -> ArangoDocumentStore:
        return cls(connect(url, db_name, user, password))

    def _query(self, query: str, **bind_vars: Any) -> list[Any]:
        with arango_errors("run a query"):
            return list(self.db.aql.execute(query, bind_vars=bind_vars))

    # --- writes ----------------------------------------------------------------------------
    def begin_document(self, doc: DocumentRecord) -> None:
        self.delete_document(doc.id)  # a leftover pending record and its chunks go first
        with arango_errors("record the document"):
            self.db.collection(aql.DOCUMENTS).insert(
                {
                    "_key": doc.id,
                    "name": doc.name,
                    "pages": doc.pages,
                    "chunks": doc.chunks,
                    "size_bytes": doc.size_bytes,
                    "added_at": doc.added_at,
                    "status": "ingesting",
                    "parse_report": doc.parse_report or {},
                }
            )

    def add_chunks(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        with arango_errors("read a document"):
            doc = self.db.collection(aql.DOCUMENTS).get(doc_id)
        if not doc or doc.get("status") != "ingesting":
            raise DocumentNotFound(f"No document {doc_id!r} is being ingested")
        has_chunk = [{"_from": f"documents/{doc_id}", "_to": f"chunks/{c.id}"} for c in chunks]
        # next-links follow the id convention, so batches link across their boundary.
        nexts = [
            {"_from": f"chunks/{chunk_id(doc_id, c.ordinal - 1)}", "_to": f"chunks/{c.id}"}
            for c in chunks
            if c.ordinal > 0
        ]
        with arango_errors("store chunks"):
            self.db.collection(aql.CHUNKS).import_bulk(
                [_chunk_doc(c) for c in chunks], on_duplicate="replace", halt_on_error=True
            )
            self.db.collection(aql.HAS_CHUNK).import_bulk(has_chunk, halt_on_error=True)
            if nexts:
                self.db.collection(aql.NEXT).import_bulk(nexts, halt_on_error=True)

    def append_chunks(self, doc_id: str, chunks: Sequence[Chunk], *, parse_report: dict) -> None:
        with arango_errors("read a document"):
            doc = self.db.collection(aql.DOCUMENTS).get(doc_id)
        if not doc or doc.get("status") != "ready":
            raise DocumentNotFound(f"No document {doc_id!r} is in the library")
        ordinals = {c.ordinal for c in chunks}
        has_chunk = [{"_from": f"documents/{doc_id}", "_to": f"chunks/{c.id}"} for c in chunks]
        nexts = [
            {"_from": f"chunks/{chunk_id(doc_id, c.ordinal - 1)}", "_to": f"chunks/{c.id}"}
            for c in chunks
            if c.ordinal - 1 in ordinals
        ]
        with arango_errors("store chunks"):
            if chunks:
                self.db.collection(aql.CHUNKS).import_bulk(
                    [_chunk_doc(c) for c in chunks], on_duplicate="replace", halt_on_error=True
                )
                self.db.collection(aql.HAS_CHUNK).import_bulk(has_chunk, halt_on_error=True)
            if nexts:
                self.db.collection(aql.NEXT).import_bulk(nexts, halt_on_error=True)
            # the count and the report last: until then the new chunks are not listed
            self.db.collection(aql.DOCUMENTS).update(
                {
                    "_key": doc_id,
                    "chunks": int(doc.get("chunks", 0)) + len(chunks),
                    "parse_report": parse_report,
                }
            )

    def mark_ready(self, doc_id: str, *, pages: int, chunks: int) -> None:
        with arango_errors("mark the document ready"):
            self.db.collection(aql.DOCUMENTS).update(
                {"_key": doc_id, "status": "ready", "pages": pages, "chunks": chunks}
            )

    def delete_document(self, doc_id: str) -> bool:
        """Remove the document, its chunks and both kinds of edges in one stream transaction."""
        collections = [aql.DOCUMENTS, aql.CHUNKS, aql.HAS_CHUNK, aql.NEXT]
        with self._lock, arango_errors("delete the document"):
            txn = self.db.begin_transaction(write=collections)
            try:
                for query in (aql.DELETE_NEXT_EDGES, aql.DELETE_HAS_CHUNK_EDGES, aql.DELETE_CHUNKS):
                    txn.aql.execute(query, bind_vars={"doc_id": doc_id})
                removed = list(txn.aql.execute(aql.DELETE_DOCUMENT, bind_vars={"doc_id": doc_id}))
                txn.commit_transaction()
            except BaseException:
                txn.abort_transaction()
                raise
        return bool(removed)

    # --- reads -----------------------------------------------------------------------------
    def get_document(self, doc_id: str) -> DocumentRecord | None:
        with arango_errors("read a document"):
            doc = self.db.collection(aql.DOCUMENTS).get(doc_id)
        return _to_record(doc) if doc else None

    def list_documents(self) -> list[DocumentRecord]:
        return [_to_record(d) for d in self._query(aql.LIST_READY)]

    def pending_documents(self) -> list[str]:
        return list(self._query(aql.PENDING_IDS))

    def ready_ids(self) -> set[str]:
        return set(self._query(aql.READY_IDS))

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        return [_to_chunk(d) for d in self._query(aql.GET_CHUNKS, ids=list(chunk_ids))]

    def neighbours(self, chunk_id: str, hops: int = 1) -> list[Chunk]:
        if hops <= 0:
            return []
        rows = self._query(aql.NEIGHBOURS, chunk_id=chunk_id, hops=int(hops))
        return [_to_chunk(d) for d in rows]

    def iter_chunks(self, batch_size: int = 1000) -> Iterator[list[Chunk]]:
        with arango_errors("read chunks"):
            cursor = self.db.aql.execute(aql.ITER_CHUNKS, batch_size=batch_size, stream=True)
            batch: list[Chunk] = []
            for doc in cursor:
                batch.append(_to_chunk(doc))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def health(self) -> dict[str, object]:
        try:
            with arango_errors("answer a version request"):
                version = self.db.version()
        except StoreUnavailable as exc:
            return {"ok": False, "detail": str(exc)}
        return {"ok": True, "detail": f"ArangoDB {version}"}
