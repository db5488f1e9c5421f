"""Dense vectors in Milvus through pymilvus' MilvusClient.

A local path opens Milvus Lite (milvus-lite 3.x: the ``.db`` is a directory, and only one
process may hold it); an ``http(s)://`` or ``tcp://`` URI reaches Milvus Standalone,
Distributed or Zilliz unchanged. Fields: ``id`` (chunk id, primary, varchar), ``doc_id``, and
``vector`` (COSINE on normalised vectors). All calls go through one lock (the client is shared
between threads) and one error-mapping point (``_call``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import structlog

from shared_utils.errors import StoreUnavailable
from shared_utils.retrieval.base import VectorIndex
from shared_utils.rwlock import ReadWriteLock
from shared_utils.types import Chunk

logger = structlog.get_logger(__name__)

T = TypeVar("T")
ID_MAX_LEN = 128
INSERT_BATCH = 1000
INDEX_TYPE = "AUTOINDEX"  # Milvus Lite maps it to its default; servers pick a good index


def is_server_uri(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))


def quote(value: str) -> str:
    """A Milvus expression string literal; quotes and backslashes escaped.

    >>> quote('a"b\\\\c')
    '"a\\\\"b\\\\\\\\c"'
    """
    return json.dumps(str(value), ensure_ascii=False)


def doc_filter(doc_ids: Sequence[str] | frozenset[str]) -> str:
    """``doc_id in [...]`` with every id quoted (no user text is ever spliced in raw).

    >>> doc_filter(["b", 'x") or (1==1'])
    'doc_id in ["b", "x\\\\") or (1==1"]'
    """
    return "doc_id in [" + ", ".join(quote(d) for d in sorted(doc_ids)) + "]"


_LITE_GRPC_OPTIONS = {
    "grpc.keepalive_time_ms": 360_000,
    "grpc.keepalive_permit_without_calls": 0,
}


class MilvusVectorIndex(VectorIndex):
    """Chunk vectors in one Milvus collection (created on first open, loaded on reopen)."""

    name = "milvus"

    def __init__(
        self, uri: str, dimension: int, *, token: str = "", collection: str = "olympus_chunks"
    ) -> None:
        self.uri, self.dimension, self.collection = uri, int(dimension), collection
        self._lock = ReadWriteLock()  # searches run side by side; writes and close alone
        self.local = not is_server_uri(uri)
        if self.local:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        from pymilvus import MilvusClient  # heavy: imported only when a vector index is opened

        # Milvus Lite's in-process gRPC server allows a client ping only every 5 minutes when
        # no call is in flight; pymilvus pings every 10 s, so an idle app got GOAWAY "too many
        # pings" and, under load, a failed reconnect. Ping only during calls, and rarely.
        options = {"grpc_options": _LITE_GRPC_OPTIONS} if self.local else {}
        self._client = self._call("connect", lambda: MilvusClient(uri=uri, token=token, **options))
        self._call("open collection", self._ensure_collection)

    # --- the one place that maps Milvus failures -------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, shared: bool = False) -> T:
        with self._lock.read() if shared else self._lock.write():
            try:
                return fn()
            except StoreUnavailable:
                raise
            except Exception as exc:  # pymilvus raises MilvusException, gRPC and OS errors
                raise StoreUnavailable(
                    f"Milvus {what} failed at {self.uri}: {exc}", hint=self._hint(exc)
                ) from exc

    def _hint(self, exc: Exception) -> str:
        if self.local and "Open local milvus failed" in str(exc):
            return (
                "Another Olympus process holds this Milvus Lite database (only one process "
                "may open it): stop it, or point OLYMPUS_MILVUS_URI at a Milvus server."
            )
        if self.local:
            return "Check that the data dir is writable and the disk is not full."
        return "Check that the Milvus server is running at OLYMPUS_MILVUS_URI and the token."

    def _ensure_collection(self) -> None:
        from pymilvus import DataType, MilvusClient

        c = self._client
        if c.has_collection(self.collection):
            info = c.describe_collection(self.collection)
            dims = [
                f.get("params", {}).get("dim")
                for f in info.get("fields", [])
                if f.get("name") == "vector"
            ]
            if dims and int(dims[0]) != self.dimension:
                raise StoreUnavailable(
                    f"Milvus collection {self.collection!r} holds {dims[0]}-d vectors but the "
                    f"embedding model makes {self.dimension}-d ones",
                    hint="The embedding model changed: restore OLYMPUS_EMBEDDING_MODEL, or use a "
                    "new data dir and re-ingest.",
                )
            c.load_collection(self.collection)
            return
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX_LEN)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_MAX_LEN)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        params = c.prepare_index_params()
        params.add_index(field_name="vector", index_type=INDEX_TYPE, metric_type="COSINE")
        if not self.local:  # servers: a scalar index makes doc_id filters cheap
            params.add_index(field_name="doc_id", index_type="INVERTED")
        c.create_collection(self.collection, schema=schema)
        # sync=False: Milvus Lite does not implement the timestamp call a synchronous index
        # build waits with (it logged a gRPC "Method not implemented" traceback).
        c.create_index(self.collection, params, sync=False)
        c.load_collection(self.collection)
        logger.info(
            "milvus_collection_created",
            collection=self.collection,
            uri=self.uri,
            dimension=self.dimension,
        )

    # --- VectorIndex ---------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Upsert vectors (one per chunk, same order); re-adding a chunk id replaces it."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(chunks) and vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors are {vectors.shape[1]}-d, index is {self.dimension}-d")
        for start in range(0, len(chunks), INSERT_BATCH):
            rows = [
                {"id": c.id, "doc_id": c.doc_id, "vector": v}
                for c, v in zip(
                    chunks[start : start + INSERT_BATCH],
                    vectors[start : start + INSERT_BATCH],
                    strict=True,
                )
            ]
            self._call("insert", functools.partial(self._client.upsert, self.collection, rows))

    def delete_document(self, doc_id: str) -> None:
        expr = f"doc_id == {quote(doc_id)}"
        self._call("delete", lambda: self._client.delete(self.collection, filter=expr))

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        ids = list(chunk_ids)
        if ids:
            self._call("delete", lambda: self._client.delete(self.collection, ids=ids))

    def search(
        self, vector: np.ndarray, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) pairs, best first."""
        if k <= 0 or (doc_ids is not None and not doc_ids):
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        kwargs = {"filter": doc_filter(doc_ids)} if doc_ids is not None else {}
        result = self._call(
            "search",
            lambda: self._client.search(
                self.collection, data=[query], limit=k, output_fields=[], **kwargs
            ),
            shared=True,
        )
        return [(hit["id"], float(hit["distance"])) for hit in result[0]]

    def search_many(
        self, vectors: Sequence[np.ndarray], k: int, doc_ids: frozenset[str] | None = None
    ) -> list[list[tuple[str, float]]]:
        """Several queries in one call: Milvus Lite serves calls one after the other, so
        twenty searches asked together cost one round trip instead of twenty."""
        if not len(vectors):
            return []
        if k <= 0 or (doc_ids is not None and not doc_ids):
            return [[] for _ in vectors]
        data = [np.asarray(v, dtype=np.float32).reshape(-1) for v in vectors]
        kwargs = {"filter": doc_filter(doc_ids)} if doc_ids is not None else {}
        result = self._call(
            "search",
            lambda: self._client.search(
                self.collection, data=data, limit=k, output_fields=[], **kwargs
            ),
            shared=True,
        )
        return [[(hit["id"], float(hit["distance"])) for hit in hits] for hits in result]

    def count(self) -> int:
        rows = self._call(
            "count",
            lambda: self._client.query(self.collection, filter="", output_fields=["count(*)"]),
            shared=True,
        )
        return int(rows[0]["count(*)"])

    def flush(self) -> None:
        """Seal growing segments so they get indexed (Lite searches them much faster)."""
        self._call("flush", lambda: self._client.flush(self.collection))

    def health(self) -> dict[str, object]:
        try:
            n = self.count()
        except StoreUnavailable as exc:
            return {"ok": False, "detail": str(exc)}
        kind = "Milvus Lite" if self.local else "Milvus server"
        return {"ok": True, "detail": f"{kind} {self.uri}: {n} vectors"}

    def close(self) -> None:
        with self._lock.write():
            try:
                self._client.close()
            except Exception as exc:  # noqa: BLE001 - closing must not mask the real error
                logger.warning("milvus_close_failed", error=str(exc))
