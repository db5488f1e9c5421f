"""BM25 keyword leg from an ArangoSearch view (``text_en`` analyzer) over the chunks collection.

The view indexes the ``chunks`` collection by itself, so ``add``/``delete_document`` have
nothing to write: the ArangoDB document store's writes are what the view sees (ArangoSearch
commits about once a second, so a fresh chunk becomes searchable shortly after ingest).
Selected with ``OLYMPUS_KEYWORD_INDEX=arango`` when ArangoDB is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared_utils.retrieval.base import KeywordIndex
from shared_utils.stores import aql
from shared_utils.stores.arango import arango_errors
from shared_utils.types import Chunk


class ArangoSearchKeywordIndex(KeywordIndex):
    def __init__(self, db: Any) -> None:
        self.db = db  # the schema (incl. the view) is created by ArangoDocumentStore

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Nothing to do: the view follows the chunks collection."""

    def delete_document(self, doc_id: str) -> None:
        """Nothing to do: deleting chunks from the collection removes them from the view."""

    def search(
        self, text: str, k: int, doc_ids: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        if not text.strip() or k <= 0:
            return []
        bind = {"text": text, "k": int(k), "doc_ids": sorted(doc_ids) if doc_ids else None}
        with arango_errors("search the keyword view"):
            rows = list(self.db.aql.execute(aql.SEARCH_BM25, bind_vars=bind))
        return [(row["id"], float(row["score"])) for row in rows]

    def count(self) -> int:
        with arango_errors("count chunks"):
            return int(self.db.collection(aql.CHUNKS).count())
