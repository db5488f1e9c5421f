"""Open the three stores of a data dir: document store, vector index, keyword index.

Embedded by default (SQLite document store, Milvus Lite, BM25 index, all under
``settings.data_dir``); ArangoDB when ``OLYMPUS_ARANGO_URL`` is set; a Milvus server when
``OLYMPUS_MILVUS_URI`` is a URL. The vector index opens lazily (on first use): Milvus Lite
lets only one process hold its database, so commands that only list documents must not
take it from a running app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import structlog

from shared_utils.retrieval.base import KeywordIndex, VectorIndex
from shared_utils.stores.base import DocumentStore
from shared_utils.types import Chunk
from src.settings import Settings

logger = structlog.get_logger(__name__)


class LazyVectorIndex(VectorIndex):
    """A VectorIndex that opens the real one on first use (thread-safe)."""

    def __init__(self, opener: Callable[[], VectorIndex], *, name: str = "vectors") -> None:
        self._opener, self.name = opener, name
        self._index: VectorIndex | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._index is not None

    @property
    def index(self) -> VectorIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = self._opener()
        return self._index

    def __getattr__(self, name: str):
        """Other attributes of the real index (e.g. ``dimension``, ``uri``)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.index, name)

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.index.add(chunks, vectors)

    def delete_document(self, doc_id: str) -> None:
        self.index.delete_document(doc_id)

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        self.index.delete_chunks(chunk_ids)

    def search(
        self, vector: np.ndarray, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        return self.index.search(vector, k, doc_ids)

    def search_many(
        self, vectors: Sequence[np.ndarray], k: int, doc_ids: frozenset[str] | None = None
    ) -> list[list[tuple[str, float]]]:
        return self.index.search_many(vectors, k, doc_ids)

    def count(self) -> int:
        return self.index.count()

    def flush(self) -> None:
        self.index.flush()

    def health(self) -> dict[str, object]:
        health = getattr(self.index, "health", None)
        return health() if health else {"ok": True, "detail": self.name}

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None


@dataclass
class Stores:
    docstore: DocumentStore
    vectors: VectorIndex
    keywords: KeywordIndex

    def close(self) -> None:
        for part in (self.vectors, self.keywords, self.docstore):
            part.close()


def open_stores(settings: Settings, dimension: int) -> Stores:
    """The stores configured by ``settings``; vectors of ``dimension`` floats."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    docstore = DOCSTORES[docstore_kind(settings)](settings)
    try:
        keywords = KEYWORD_INDEXES[keyword_kind(settings)](settings, docstore)
    except BaseException:
        docstore.close()
        raise
    kind = VECTOR_KIND
    vectors = LazyVectorIndex(lambda: VECTOR_INDEXES[kind](settings, dimension), name=kind)
    return Stores(docstore=docstore, vectors=vectors, keywords=keywords)


# --- the registry: which store serves which role, chosen in one place ------------------------
def docstore_kind(settings: Settings) -> str:
    """ArangoDB when ``OLYMPUS_ARANGO_URL`` is set, the embedded SQLite store otherwise."""
    return "arango" if settings.arango_url else "sqlite"


def keyword_kind(settings: Settings) -> str:
    """ "arango": ArangoSearch's BM25 over the ArangoDB chunks (needs OLYMPUS_ARANGO_URL);
    "auto" and "bm25": the embedded index, which measured as good or better (README)."""
    return "arango" if settings.keyword_index == "arango" else "bm25"


VECTOR_KIND = "milvus"  # Milvus Lite under the data dir, or a Milvus server by URI


def _sqlite_docstore(settings: Settings) -> DocumentStore:
    from shared_utils.stores.sqlite import SQLiteDocumentStore

    return SQLiteDocumentStore(settings.data.docstore)


def _arango_docstore(settings: Settings) -> DocumentStore:
    from shared_utils.stores.arango import ArangoDocumentStore, connect

    db = connect(
        settings.arango_url, settings.arango_db, settings.arango_user, settings.arango_password
    )
    return ArangoDocumentStore(db)


def _bm25_keywords(settings: Settings, docstore: DocumentStore) -> KeywordIndex:
    from shared_utils.retrieval.bm25 import BM25Index

    return BM25Index(settings.data.keywords)


def _arango_keywords(settings: Settings, docstore: DocumentStore) -> KeywordIndex:
    from shared_utils.errors import SettingsError
    from shared_utils.retrieval.arango_search import ArangoSearchKeywordIndex
    from shared_utils.stores.arango import ArangoDocumentStore

    if not isinstance(docstore, ArangoDocumentStore):
        raise SettingsError(
            "OLYMPUS_KEYWORD_INDEX=arango needs the ArangoDB document store",
            hint="Set OLYMPUS_ARANGO_URL, or use OLYMPUS_KEYWORD_INDEX=bm25.",
        )
    return ArangoSearchKeywordIndex(docstore.db)


def _milvus_vectors(settings: Settings, dimension: int) -> VectorIndex:
    from shared_utils.retrieval.milvus import MilvusVectorIndex

    return MilvusVectorIndex(settings.resolved_milvus_uri, dimension, token=settings.milvus_token)


DOCSTORES: dict[str, Callable[[Settings], DocumentStore]] = {
    "sqlite": _sqlite_docstore,
    "arango": _arango_docstore,
}
KEYWORD_INDEXES: dict[str, Callable[[Settings, DocumentStore], KeywordIndex]] = {
    "bm25": _bm25_keywords,
    "arango": _arango_keywords,
}
VECTOR_INDEXES: dict[str, Callable[[Settings, int], VectorIndex]] = {"milvus": _milvus_vectors}
