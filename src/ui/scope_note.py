"""Scope feedback: when the search is limited to some documents, say so when the best match
for the question lies in a document outside them."""

from __future__ import annotations

from typing import Any

import structlog

from src.protocols import Pipeline

logger = structlog.get_logger(__name__)

MARGIN = 0.05  # the outside passage must be this much more similar (cosine) to be worth a note


def _best(results: list[Any]) -> float:
    return max((float(r.similarity) for r in results if r.similarity is not None), default=-1.0)


def outside(pipeline: Pipeline, msg: dict[str, Any], doc_ids: list[str] | None) -> str:
    """A note naming the better document outside the scope, or "" (also when unscoped)."""
    if not doc_ids:
        return ""
    query = msg.get("query") or msg.get("question") or ""
    try:
        everywhere = list(pipeline.search(query, k=3).results)
    except Exception as exc:  # noqa: BLE001 - a missing note must not fail the answer
        logger.warning("ui.scope_note.failed", error=str(exc))
        return ""
    outside_hits = [r for r in everywhere if r.chunk.doc_id not in set(doc_ids)]
    if not outside_hits:
        return ""
    best_out = max(outside_hits, key=lambda r: float(r.similarity or -1.0))
    inside = _best(msg.get("sources") or [])
    if best_out.similarity is None or float(best_out.similarity) < inside + MARGIN:
        return ""
    name = best_out.chunk.doc_name or best_out.chunk.doc_id[:12]
    return (
        f"The best match for this question is in {name} ({best_out.chunk.pages}), which is "
        "outside the documents chosen in “Search in”. Clear the choice to search everything."
    )
