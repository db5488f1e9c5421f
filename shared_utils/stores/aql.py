"""Every AQL query the ArangoDB store runs, as constants with bind variables.

User input (ids, names, query text) only ever travels in bind variables: no query here is
built with string formatting. ``tests/unit/test_aql.py`` checks each query's ``@vars``.
"""

from __future__ import annotations

import re

DOCUMENTS = "documents"
CHUNKS = "chunks"
HAS_CHUNK = "has_chunk"
NEXT = "next"
GRAPH = "olympus_chunks"
VIEW = "chunks_view"

LIST_READY = """
FOR d IN documents
  FILTER d.status == "ready"
  SORT d.added_at DESC
  RETURN d
"""

PENDING_IDS = """
FOR d IN documents
  FILTER d.status == "ingesting"
  RETURN d._key
"""

READY_IDS = """
FOR d IN documents
  FILTER d.status == "ready"
  RETURN d._key
"""

# Delete a document and everything hanging off it. Run inside one stream transaction.
DELETE_NEXT_EDGES = """
FOR c IN chunks
  FILTER c.doc_id == @doc_id
  FOR e IN next
    FILTER e._from == c._id OR e._to == c._id
    REMOVE e IN next OPTIONS { ignoreErrors: true }
"""

DELETE_HAS_CHUNK_EDGES = """
FOR e IN has_chunk
  FILTER e._from == CONCAT("documents/", @doc_id)
  REMOVE e IN has_chunk
"""

DELETE_CHUNKS = """
FOR c IN chunks
  FILTER c.doc_id == @doc_id
  REMOVE c IN chunks
"""

DELETE_DOCUMENT = """
FOR d IN documents
  FILTER d._key == @doc_id
  REMOVE d IN documents
  RETURN 1
"""

GET_CHUNKS = """
FOR id IN @ids
  LET c = DOCUMENT("chunks", id)
  FILTER c != null
  LET d = DOCUMENT("documents", c.doc_id)
  FILTER d != null AND d.status == "ready"
  RETURN MERGE(c, { doc_name: d.name })
"""

# Neighbour expansion by graph traversal over the `next` edges, both directions.
NEIGHBOURS = """
LET start = DOCUMENT("chunks", @chunk_id)
FILTER start != null
FOR v IN 1..@hops ANY start next
  OPTIONS { order: "bfs", uniqueVertices: "global" }
  LET d = DOCUMENT("documents", v.doc_id)
  FILTER d != null AND d.status == "ready"
  SORT v.ordinal
  RETURN MERGE(v, { doc_name: d.name })
"""

ITER_CHUNKS = """
FOR d IN documents
  FILTER d.status == "ready"
  FOR c IN chunks
    FILTER c.doc_id == d._key
    SORT c.doc_id, c.ordinal
    RETURN MERGE(c, { doc_name: d.name })
"""

# BM25 keyword leg over the ArangoSearch view (text_en analyzer).
SEARCH_BM25 = """
FOR c IN chunks_view
  SEARCH ANALYZER(c.text IN TOKENS(@text, "text_en"), "text_en")
  FILTER @doc_ids == null OR c.doc_id IN @doc_ids
  LET score = BM25(c)
  SORT score DESC
  LIMIT @k
  RETURN { id: c._key, score: score }
"""

ALL_QUERIES = {
    "LIST_READY": LIST_READY,
    "PENDING_IDS": PENDING_IDS,
    "READY_IDS": READY_IDS,
    "DELETE_NEXT_EDGES": DELETE_NEXT_EDGES,
    "DELETE_HAS_CHUNK_EDGES": DELETE_HAS_CHUNK_EDGES,
    "DELETE_CHUNKS": DELETE_CHUNKS,
    "DELETE_DOCUMENT": DELETE_DOCUMENT,
    "GET_CHUNKS": GET_CHUNKS,
    "NEIGHBOURS": NEIGHBOURS,
    "ITER_CHUNKS": ITER_CHUNKS,
    "SEARCH_BM25": SEARCH_BM25,
}

_BIND = re.compile(r"(?<![@\w])@(\w+)")


def bind_names(query: str) -> set[str]:
    """Names of the bind variables a query uses.

    >>> sorted(bind_names('FOR c IN x FILTER c.a == @a AND c.b IN @b_list RETURN c'))
    ['a', 'b_list']
    """
    return set(_BIND.findall(query))
