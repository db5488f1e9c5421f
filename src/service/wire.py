"""The one JSON schema of Olympus' results, documented in docs/api.md.

Used by the service API (``src/api/``), the CLI's ``--json`` outputs and the remote client
(``src/service/client.py``), so a passage, a citation or an event looks the same wherever
it is read. Every ``*_to_dict`` has a ``*_from_dict`` twin that gives back the typed object.

Pages are always ``page_start``/``page_end`` (1-based, inclusive) and the document's name is
always ``document`` next to its ``doc_id``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from shared_utils import errors
from shared_utils.errors import OlympusError
from shared_utils.types import Chunk, DocumentRecord, ScoredChunk, chunk_id, chunk_ordinal
from src.events import (
    AskEvent,
    BackendSwitchEvent,
    Citation,
    ClaimCheck,
    DoneEvent,
    QueueEvent,
    SourcesEvent,
    StatusEvent,
    TokenEvent,
)


# --- passages, citations, documents -----------------------------------------------------------
def passage_to_dict(number: int, scored: ScoredChunk) -> dict[str, Any]:
    """A retrieved passage; ``number`` is its rank in a search and its [n] in an answer."""
    c = scored.chunk
    return {"number": number, "doc_id": c.doc_id, "document": c.doc_name,
            "page_start": c.page_start, "page_end": c.page_end,
            "score": round(float(scored.score), 6), "ranks": dict(scored.ranks),
            "similarity": scored.similarity, "chunk_id": c.id, "text": c.text}


def passage_from_dict(d: dict[str, Any]) -> ScoredChunk:
    id_ = str(d.get("chunk_id") or chunk_id(d["doc_id"], 0))
    chunk = Chunk(id=id_, doc_id=d["doc_id"], ordinal=chunk_ordinal(id_),
                  text=d["text"], page_start=int(d["page_start"]), page_end=int(d["page_end"]),
                  doc_name=d.get("document", ""))
    return ScoredChunk(chunk=chunk, score=float(d.get("score", 0.0)),
                       ranks=dict(d.get("ranks") or {}), similarity=d.get("similarity"))


def citation_to_dict(c: Citation) -> dict[str, Any]:
    return {"number": c.number, "doc_id": c.doc_id, "document": c.doc_name,
            "page_start": c.page_start, "page_end": c.page_end, "inferred": c.inferred}


def citation_from_dict(d: dict[str, Any]) -> Citation:
    return Citation(number=int(d["number"]), doc_id=d["doc_id"], doc_name=d.get("document", ""),
                    page_start=int(d["page_start"]), page_end=int(d["page_end"]),
                    inferred=bool(d.get("inferred", False)))


def document_to_dict(doc: DocumentRecord) -> dict[str, Any]:
    return dataclasses.asdict(doc)


def document_from_dict(d: dict[str, Any]) -> DocumentRecord:
    names = {f.name for f in dataclasses.fields(DocumentRecord)}
    return DocumentRecord(**{k: v for k, v in d.items() if k in names})


def search_to_dict(result: Any) -> dict[str, Any]:
    """A ``SearchResult``: the query, timings in ms and the passages, best first."""
    return {"query": result.query, "timings": dict(result.timings),
            "results": [passage_to_dict(i, h) for i, h in enumerate(result.results, start=1)]}


# --- the answer --------------------------------------------------------------------------------
def done_to_dict(done: DoneEvent) -> dict[str, Any]:
    """The final event of an answer (also ``ask --json``)."""
    return {
        "answer": done.answer, "backend": done.backend, "backend_name": done.backend_name,
        "model": done.model, "answered_by": done.answered_by,
        "fallback_note": done.fallback_note,
        "citations": [citation_to_dict(c) for c in done.citations],
        "sources": [passage_to_dict(i, s) for i, s in enumerate(done.sources, 1)],
        "timings": {k: round(v, 2) for k, v in done.timings.items()},
        "prompt_tokens": done.prompt_tokens, "dropped_sources": done.dropped_sources,
        "removed_citations": list(done.removed_citations), "skipped": dict(done.skipped),
        "interrupted": done.interrupted, "error": done.error, "chain": list(done.chain),
        "mode": done.mode, "mode_reason": done.mode_reason, "loop_stopped": done.loop_stopped,
        "unsupported": list(done.unsupported), "supported_share": done.supported_share,
        "verified": list(done.verified), "unverified": list(done.unverified),
        "claims": [claim_to_dict(c) for c in done.claims],
    }


def done_from_dict(d: dict[str, Any]) -> DoneEvent:
    plain = {k: d[k] for k in ("answer", "backend", "timings", "prompt_tokens", "dropped_sources",
                               "removed_citations", "skipped", "interrupted", "error",
                               "backend_name", "model", "answered_by", "fallback_note", "mode",
                               "mode_reason",
                               "loop_stopped", "unsupported", "supported_share", "verified",
                               "unverified") if k in d}
    return DoneEvent(citations=[citation_from_dict(c) for c in d.get("citations", [])],
                     sources=[passage_from_dict(s) for s in d.get("sources", [])],
                     chain=tuple(d.get("chain", ())),
                     claims=[claim_from_dict(c) for c in d.get("claims", [])], **plain)


def claim_to_dict(check: ClaimCheck) -> dict[str, Any]:
    """One checked claim: the sentence, its ``[n]``, the verdict, the best source and the
    sources that state it."""
    return {"sentence": check.sentence, "cited": list(check.cited), "status": check.status,
            "support": check.support, "best": check.best, "stating": list(check.stating)}


def claim_from_dict(d: dict[str, Any]) -> ClaimCheck:
    return ClaimCheck(sentence=d["sentence"], cited=tuple(d.get("cited", ())), status=d["status"],
                      support=float(d.get("support", 0.0)), best=d.get("best"),
                      stating=tuple(d.get("stating", ())))


def queue_to_dict(event: QueueEvent) -> dict[str, Any]:
    """A place in the engine's line (the answer waits for a slot)."""
    return {"position": event.position, "eta_s": round(event.eta_s, 1),
            "message": event.message}


def event_to_dict(event: AskEvent) -> dict[str, Any]:
    """One streamed event as ``{"type": ..., fields}``."""
    if isinstance(event, SourcesEvent):
        return {"type": "sources", "retrieval_ms": round(event.retrieval_ms, 2),
                "query": event.query,
                "sources": [passage_to_dict(i, s) for i, s in enumerate(event.sources, 1)]}
    if isinstance(event, StatusEvent):
        return {"type": "status", "message": event.message}
    if isinstance(event, TokenEvent):
        return {"type": "token", "text": event.text}
    if isinstance(event, QueueEvent):
        return {"type": "queue", **queue_to_dict(event)}
    if isinstance(event, BackendSwitchEvent):
        return {"type": "backend_switch", "from_backend": event.from_backend,
                "to_backend": event.to_backend, "reason": event.reason}
    return {"type": "done", **done_to_dict(event)}


def event_from_dict(d: dict[str, Any]) -> AskEvent:
    kind = d.get("type")
    if kind == "sources":
        return SourcesEvent(sources=[passage_from_dict(s) for s in d.get("sources", [])],
                            retrieval_ms=float(d.get("retrieval_ms", 0.0)),
                            query=d.get("query", ""))
    if kind == "status":
        return StatusEvent(d.get("message", ""))
    if kind == "token":
        return TokenEvent(d.get("text", ""))
    if kind == "queue":
        return QueueEvent(int(d["position"]), float(d.get("eta_s", 0.0)), d.get("message", ""))
    if kind == "backend_switch":
        return BackendSwitchEvent(d["from_backend"], d["to_backend"], d.get("reason", ""))
    if kind == "done":
        return done_from_dict(d)
    raise ValueError(f"unknown event type {kind!r}")


# --- errors -------------------------------------------------------------------------------------
def error_body(message: str, *, code: str, hint: str, kind: str = "invalid_request_error",
               param: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape, the one builder of every error body the API sends: ``code`` is a
    name (the Olympus error class), ``hint`` how to fix it."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code,
                      "hint": hint}}


def error_to_dict(exc: OlympusError, *, kind: str = "invalid_request_error") -> dict[str, Any]:
    """A typed error as ``error_body``; ``param`` when the error names the request field."""
    return error_body(exc.message, code=type(exc).__name__, hint=exc.hint or "", kind=kind,
                      param=getattr(exc, "param", None))


def error_from_dict(d: dict[str, Any]) -> OlympusError:
    """The typed error an API answer describes (``OlympusError`` when the class is unknown)."""
    error = d.get("error")
    body: dict[str, Any] = error if isinstance(error, dict) else d
    cls = getattr(errors, str(body.get("code") or ""), None)
    if not (isinstance(cls, type) and issubclass(cls, OlympusError)):
        cls = OlympusError
    return cls(str(body.get("message") or "the Olympus service failed"),
               hint=body.get("hint") or None)
