"""Fusion retrieval: any list of weighted legs fused with RRF; hybrid = a dense leg (vector
index) and a BM25 leg.

Only chunks of ready documents come back (the document store's ``get_chunks`` drops the
rest, and each leg is asked for more candidates than ``k`` so that filtering and fusion
have room). With ``neighbour_hops > 0`` every hit is widened with its adjacent chunks
(through the store's next-links), its text merged and its page span extended.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import structlog

from shared_utils.query_batcher import QueryBatcher
from shared_utils.retrieval.base import KeywordIndex, Leg, Query, VectorIndex
from shared_utils.retrieval.fusion import DEFAULT_K, rrf
from shared_utils.stores.base import DocumentStore
from shared_utils.types import Chunk, ScoredChunk

logger = structlog.get_logger(__name__)

MIN_CANDIDATES = 20  # per leg, before fusion
CANDIDATE_FACTOR = 4


class QueryEncoder(Protocol):
    def encode_query(self, text: str) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def merge_texts(first: str, second: str) -> str:
    """Join two adjacent chunk texts, dropping the overlap the chunker repeated.

    >>> merge_texts("One two. Three four.", "Three four. Five six.")
    'One two. Three four. Five six.'
    >>> merge_texts("Alpha.", "Beta.")
    'Alpha. Beta.'
    """
    # The overlap is a suffix of ``first`` that starts ``second``: find where ``second``'s
    # opening words occur in the tail of ``first``, earliest first (the longest overlap).
    probe = second[:8]
    if len(probe) >= 8:
        lo = max(0, len(first) - 4000)
        at = first.find(probe, lo)
        while at >= 0:
            if second.startswith(first[at:]):
                return first[:at] + second
            at = first.find(probe, at + 1)
    return f"{first} {second}"


def widen(hit: Chunk, neighbours: Sequence[Chunk]) -> Chunk:
    """``hit`` with the text of its neighbours merged in order and the page span widened."""
    parts = sorted([*neighbours, hit], key=lambda c: c.ordinal)
    text = parts[0].text
    for part in parts[1:]:
        text = merge_texts(text, part.text)
    return Chunk(
        id=hit.id,
        doc_id=hit.doc_id,
        ordinal=hit.ordinal,
        text=text,
        page_start=min(c.page_start for c in parts),
        page_end=max(c.page_end for c in parts),
        doc_name=hit.doc_name,
    )


class DenseLeg(Leg):
    """Cosine similarity of the query embedding in the vector index."""

    name, timing_keys = "dense", ("embed_ms", "dense_ms")
    gives_similarity = True  # cosine similarity: an absolute relevance (abstention reads it)

    def __init__(self, embedder: QueryEncoder, vectors: VectorIndex) -> None:
        self.embedder, self.vectors = embedder, vectors
        self._batcher = None
        if hasattr(embedder, "encode_queries"):
            self._batcher = QueryBatcher(self._rank_many)

    def rank(self, query: Query, depth: int, timings: dict[str, float]) -> list[tuple[str, float]]:
        if self._batcher is not None:  # queries asked together: one model call, one search
            hits, embed_ms, dense_ms = self._batcher.encode((query.text, depth, query.doc_ids))
            timings["embed_ms"], timings["dense_ms"] = embed_ms, dense_ms
            return hits
        start = time.perf_counter()
        vector = self.embedder.encode_query(query.text)
        timings["embed_ms"] = _ms(start)
        start = time.perf_counter()
        hits = self.vectors.search(vector, depth, query.doc_ids)
        timings["dense_ms"] = _ms(start)
        return hits

    def _rank_many(self, jobs: list[tuple[str, int, frozenset[str] | None]]) -> list[tuple]:
        """A micro-batch of queries: embedded in one model call, then one vector search per
        (depth, scope) among them; each gets (hits, embed_ms, dense_ms) of the batch."""
        start = time.perf_counter()
        vectors = self.embedder.encode_queries([text for text, _, _ in jobs])
        embed_ms = _ms(start)
        start = time.perf_counter()
        hits: list[list[tuple[str, float]]] = [[] for _ in jobs]
        groups: dict[tuple, list[int]] = {}
        for i, (_, depth, scope) in enumerate(jobs):
            groups.setdefault((depth, scope), []).append(i)
        for (depth, scope), members in groups.items():
            found = self.vectors.search_many([vectors[i] for i in members], depth, scope)
            for i, result in zip(members, found, strict=True):
                hits[i] = result
        dense_ms = _ms(start)
        return [(result, embed_ms, dense_ms) for result in hits]


class KeywordLeg(Leg):
    """A keyword index (the embedded BM25, ArangoSearch's BM25, ...)."""

    def __init__(self, keywords: KeywordIndex, name: str = "bm25") -> None:
        self.keywords, self.name, self.timing_keys = keywords, name, (f"{name}_ms",)

    def rank(self, query: Query, depth: int, timings: dict[str, float]) -> list[tuple[str, float]]:
        start = time.perf_counter()
        hits = self.keywords.search(query.text, depth, query.doc_ids)
        timings[f"{self.name}_ms"] = _ms(start)
        return hits


class FusionRetriever:
    """Any list of weighted legs fused with reciprocal-rank fusion (llama_index's
    ``QueryFusionRetriever`` is the model); every method is thread-safe."""

    name = "fusion"

    def __init__(
        self,
        legs: Sequence[tuple[Leg, float]],
        *,
        docstore: DocumentStore,
        rrf_k: int = DEFAULT_K,
        neighbour_hops: int = 0,
    ) -> None:
        self.legs = {leg.name: leg for leg, _ in legs}
        # the leg whose score is an absolute relevance, copied to ScoredChunk.similarity
        self.similarity_leg = next((leg.name for leg, _ in legs if leg.gives_similarity), None)
        self.weights = {leg.name: float(weight) for leg, weight in legs}
        self.docstore, self.rrf_k, self.neighbour_hops = docstore, rrf_k, neighbour_hops

    def retrieve(self, query: Query) -> list[ScoredChunk]:
        return self.retrieve_with_timings(query)[0]

    def single(self, name: str, query: Query | str) -> list[ScoredChunk]:
        """One leg alone (the evaluation's dense-only / BM25-only figures)."""
        query = _as_query(query)
        hits = self.legs[name].rank(query, _depth(query.k), {})
        chunks = {c.id: c for c in self.docstore.get_chunks([cid for cid, _ in hits])}
        same = name == self.similarity_leg
        out = [
            ScoredChunk(chunks[cid], score, {name: rank}, score if same else None)
            for rank, (cid, score) in enumerate(hits, start=1)
            if cid in chunks
        ]
        return self._expand(out[: query.k])

    def retrieve_with_timings(self, query: Query) -> tuple[list[ScoredChunk], dict[str, float]]:
        """Fused results and per-step timings: each leg's (embed_ms, dense_ms, bm25_ms, ...),
        fuse_ms, total_ms."""
        total = time.perf_counter()
        timings = {key: 0.0 for leg in self.legs.values() for key in leg.timing_keys}
        timings["fuse_ms"] = 0.0
        if query.k <= 0:
            return [], {**timings, "total_ms": 0.0}
        depth = _depth(query.k)
        hits = {
            name: leg.rank(query, depth, timings)
            for name, leg in self.legs.items()
            if self.weights[name] > 0
        }
        rankings = {name: [cid for cid, _ in ranked] for name, ranked in hits.items()}
        similarity = dict(hits.get(self.similarity_leg or "", []))
        start = time.perf_counter()
        fused = rrf(rankings, k=self.rrf_k, weights=self.weights)
        wanted = [cid for cid, _, _ in fused[:depth]]
        chunks = {c.id: c for c in self.docstore.get_chunks(wanted)}
        results = [
            ScoredChunk(chunks[cid], score, dict(ranks), similarity.get(cid))
            for cid, score, ranks in fused
            if cid in chunks
        ][: query.k]
        results = self._expand(results)
        timings["fuse_ms"] = _ms(start)
        timings["total_ms"] = _ms(total)
        logger.debug("retrieval.fused", k=query.k, hits=len(results), **timings)
        return results, timings

    def _expand(self, results: list[ScoredChunk]) -> list[ScoredChunk]:
        if self.neighbour_hops <= 0:
            return results
        for hit in results:
            around = self.docstore.neighbours(hit.chunk.id, self.neighbour_hops)
            if around:
                hit.chunk = widen(hit.chunk, around)
        return results


class HybridRetriever(FusionRetriever):
    """The default: a dense leg and a BM25 leg."""

    name = "hybrid"

    def __init__(
        self,
        *,
        embedder: QueryEncoder,
        vectors: VectorIndex,
        keywords: KeywordIndex,
        docstore: DocumentStore,
        rrf_k: int = DEFAULT_K,
        dense_weight: float = 1.0,
        bm25_weight: float = 1.0,
        neighbour_hops: int = 0,
    ) -> None:
        super().__init__(
            [(KeywordLeg(keywords), bm25_weight), (DenseLeg(embedder, vectors), dense_weight)],
            docstore=docstore,
            rrf_k=rrf_k,
            neighbour_hops=neighbour_hops,
        )

    def dense(self, query: Query | str) -> list[ScoredChunk]:
        """The dense leg alone: cosine similarity of the query embedding."""
        return self.single("dense", query)

    def keyword(self, query: Query | str) -> list[ScoredChunk]:
        """The BM25 leg alone."""
        return self.single("bm25", query)


def _depth(k: int) -> int:
    """Candidates asked of each leg: more than ``k``, so filtering and fusion have room."""
    return max(MIN_CANDIDATES, k * CANDIDATE_FACTOR)


def _as_query(query: Query | str) -> Query:
    return Query(text=query) if isinstance(query, str) else query
