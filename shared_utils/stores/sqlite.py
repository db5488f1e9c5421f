"""The embedded document store: one SQLite file (WAL mode) holding documents, chunks and links.

Tables mirror the ArangoDB layout so both stores pass the same contract suite:
``documents``, ``chunks``, ``has_chunk`` (document -> chunk) and ``next_chunk`` (chunk -> next
chunk). One connection guarded by a lock makes the store safe to share between threads
(Streamlit sessions, the ingest worker); WAL lets other processes read while we write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import structlog

from shared_utils.errors import DocumentNotFound, StoreUnavailable
from shared_utils.stores.base import DocumentStore
from shared_utils.types import Chunk, DocumentRecord

logger = structlog.get_logger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    added_at REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ingesting', 'ready')),
    parse_report TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS has_chunk (
    doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    PRIMARY KEY (doc_id, chunk_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS next_chunk (
    from_id TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    to_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS next_chunk_to ON next_chunk(to_id);
"""

_CHUNK_COLS = "c.id, c.doc_id, c.ordinal, c.text, c.page_start, c.page_end, d.name"
_DOC_COLS = "id, name, pages, chunks, size_bytes, added_at, status, parse_report"


def _chunk(row: tuple) -> Chunk:
    return Chunk(
        id=row[0],
        doc_id=row[1],
        ordinal=row[2],
        text=row[3],
        page_start=row[4],
        page_end=row[5],
        doc_name=row[6],
    )


def _doc(row: tuple) -> DocumentRecord:
    return DocumentRecord(
        id=row[0],
        name=row[1],
        pages=row[2],
        chunks=row[3],
        size_bytes=row[4],
        added_at=row[5],
        status=row[6],
        parse_report=json.loads(row[7] or "{}"),
    )


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Columns added after a data dir was created (documents.parse_report)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
    if "parse_report" not in have:
        conn.execute("ALTER TABLE documents ADD COLUMN parse_report TEXT NOT NULL DEFAULT '{}'")


class SQLiteDocumentStore(DocumentStore):
    """Documents, chunks and links in one SQLite file; thread-safe."""

    name = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(SCHEMA)
            _add_missing_columns(self._conn)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(
                f"Cannot open the document store {self.path}: {exc}",
                hint="Check that the data dir exists, is writable and the disk is not full.",
            ) from exc

    # --- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error)."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc

    def _read(self, sql: str, params: Sequence | Mapping[str, object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        return StoreUnavailable(
            f"Document store {self.path} failed: {exc}",
            hint="Check free disk space and file permissions of the data dir.",
        )

    # --- writes ------------------------------------------------------------------------------
    def begin_document(self, doc: DocumentRecord) -> None:
        with self._tx() as db:
            row = db.execute("SELECT status FROM documents WHERE id = ?", (doc.id,)).fetchone()
            if row is not None and row[0] == "ready":
                raise ValueError(f"document {doc.id} is already stored")
            db.execute("DELETE FROM documents WHERE id = ?", (doc.id,))
            db.execute(
                f"INSERT INTO documents ({_DOC_COLS}) VALUES (?, ?, ?, ?, ?, ?, 'ingesting', ?)",
                (
                    doc.id,
                    doc.name,
                    doc.pages,
                    doc.chunks,
                    doc.size_bytes,
                    doc.added_at,
                    json.dumps(doc.parse_report or {}),
                ),
            )

    def add_chunks(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        ordered = sorted(chunks, key=lambda c: c.ordinal)
        with self._tx() as db:
            row = db.execute("SELECT status FROM documents WHERE id = ?", (doc_id,)).fetchone()
            if row is None or row[0] != "ingesting":
                raise DocumentNotFound(f"No document {doc_id!r} is being ingested")
            last = db.execute(
                "SELECT id, ordinal FROM chunks WHERE doc_id = ? ORDER BY ordinal DESC LIMIT 1",
                (doc_id,),
            ).fetchone()
            db.executemany(
                "INSERT INTO chunks (id, doc_id, ordinal, text, page_start, page_end) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(c.id, doc_id, c.ordinal, c.text, c.page_start, c.page_end) for c in ordered],
            )
            db.executemany(
                "INSERT INTO has_chunk (doc_id, chunk_id) VALUES (?, ?)",
                [(doc_id, c.id) for c in ordered],
            )
            ids = ([last[0]] if last and last[1] < ordered[0].ordinal else []) + [
                c.id for c in ordered
            ]
            db.executemany(
                "INSERT INTO next_chunk (from_id, to_id) VALUES (?, ?)", list(pairwise(ids))
            )

    def append_chunks(self, doc_id: str, chunks: Sequence[Chunk], *, parse_report: dict) -> None:
        ordered = sorted(chunks, key=lambda c: c.ordinal)
        with self._tx() as db:
            row = db.execute("SELECT status FROM documents WHERE id = ?", (doc_id,)).fetchone()
            if row is None or row[0] != "ready":
                raise DocumentNotFound(f"No document {doc_id!r} is in the library")
            db.executemany(
                "INSERT INTO chunks (id, doc_id, ordinal, text, page_start, page_end) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(c.id, doc_id, c.ordinal, c.text, c.page_start, c.page_end) for c in ordered],
            )
            db.executemany(
                "INSERT INTO has_chunk (doc_id, chunk_id) VALUES (?, ?)",
                [(doc_id, c.id) for c in ordered],
            )
            db.executemany(
                "INSERT INTO next_chunk (from_id, to_id) VALUES (?, ?)",
                [(a.id, b.id) for a, b in pairwise(ordered) if b.ordinal == a.ordinal + 1],
            )
            db.execute(
                "UPDATE documents SET chunks = chunks + ?, parse_report = ? WHERE id = ?",
                (len(ordered), json.dumps(parse_report), doc_id),
            )

    def mark_ready(self, doc_id: str, *, pages: int, chunks: int) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE documents SET status = 'ready', pages = ?, chunks = ? WHERE id = ?",
                (pages, chunks, doc_id),
            )
            if cur.rowcount == 0:
                raise DocumentNotFound(f"No document {doc_id!r} was begun")

    def delete_document(self, doc_id: str) -> bool:
        with self._tx() as db:
            # Links first (explicitly, not only by cascade), then chunks, then the document.
            db.execute(
                "DELETE FROM next_chunk WHERE from_id IN (SELECT id FROM chunks WHERE doc_id = ?) "
                "OR to_id IN (SELECT id FROM chunks WHERE doc_id = ?)",
                (doc_id, doc_id),
            )
            db.execute("DELETE FROM has_chunk WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            cur = db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            return cur.rowcount > 0

    # --- reads -------------------------------------------------------------------------------
    def get_document(self, doc_id: str) -> DocumentRecord | None:
        rows = self._read(f"SELECT {_DOC_COLS} FROM documents WHERE id = ?", (doc_id,))
        return _doc(rows[0]) if rows else None

    def list_documents(self) -> list[DocumentRecord]:
        rows = self._read(
            f"SELECT {_DOC_COLS} FROM documents WHERE status = 'ready' ORDER BY added_at DESC, name"
        )
        return [_doc(r) for r in rows]

    def pending_documents(self) -> list[str]:
        return [r[0] for r in self._read("SELECT id FROM documents WHERE status = 'ingesting'")]

    def ready_ids(self) -> set[str]:
        return {r[0] for r in self._read("SELECT id FROM documents WHERE status = 'ready'")}

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        found: dict[str, Chunk] = {}
        ids = list(dict.fromkeys(chunk_ids))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._read(
                f"SELECT {_CHUNK_COLS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                f"WHERE c.id IN ({marks}) AND d.status = 'ready'",
                part,
            )
            found.update((r[0], _chunk(r)) for r in rows)
        return [found[cid] for cid in chunk_ids if cid in found]

    def neighbours(self, chunk_id: str, hops: int = 1) -> list[Chunk]:
        if hops <= 0:
            return []
        rows = self._read(
            f"""
            WITH RECURSIVE
              fwd(id, n) AS (SELECT to_id, 1 FROM next_chunk WHERE from_id = :id
                             UNION ALL SELECT nc.to_id, fwd.n + 1 FROM next_chunk nc
                             JOIN fwd ON nc.from_id = fwd.id WHERE fwd.n < :hops),
              bwd(id, n) AS (SELECT from_id, 1 FROM next_chunk WHERE to_id = :id
                             UNION ALL SELECT nc.from_id, bwd.n + 1 FROM next_chunk nc
                             JOIN bwd ON nc.to_id = bwd.id WHERE bwd.n < :hops)
            SELECT {_CHUNK_COLS} FROM chunks c JOIN documents d ON d.id = c.doc_id
            WHERE c.id IN (SELECT id FROM fwd UNION SELECT id FROM bwd)
              AND d.status = 'ready'
            ORDER BY c.ordinal
            """,
            {"id": chunk_id, "hops": hops},
        )
        return [_chunk(r) for r in rows]

    def iter_chunks(self, batch_size: int = 1000) -> Iterator[list[Chunk]]:
        after = ""
        while True:
            rows = self._read(
                f"SELECT {_CHUNK_COLS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
                "WHERE d.status = 'ready' AND c.id > ? ORDER BY c.id LIMIT ?",
                (after, batch_size),
            )
            if not rows:
                return
            yield [_chunk(r) for r in rows]
            after = rows[-1][0]

    # --- lifecycle ---------------------------------------------------------------------------
    def health(self) -> dict[str, object]:
        try:
            docs = self._read("SELECT count(*) FROM documents WHERE status = 'ready'")[0][0]
        except StoreUnavailable as exc:
            return {"ok": False, "detail": str(exc)}
        return {"ok": True, "detail": f"sqlite {self.path.name}: {docs} documents"}

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error as exc:  # closing must not hide the original problem
                logger.warning("docstore_close_failed", error=str(exc))
