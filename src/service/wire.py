"""Olympus' in-process objects to and from the JSON of the schema (``src/schema/``).

Used by the service API (``src/api/``), the CLI's ``--json`` outputs and the remote client
(``src/service/client.py``), so a passage, a citation or an event looks the same wherever
it is read. Every ``*_to_dict`` has a ``*_from_dict`` twin that gives back the typed object;
both go through the schema's models, which check what they read.

Pages are always ``page_start``/``page_end`` (1-based, inclusive) and the document's name is
always ``document`` next to its ``doc_id``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

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
from src.schema import answer as schema
from src.schema.errors import ErrorBody, ErrorDetail
from src.schema.library import Document, SearchResults
from src.schema.plans import Plan

if TYPE_CHECKING:
    from src.answer.answering import Answering
    from src.models.backends import BackendPlan


# --- passages, citations, documents -----------------------------------------------------------
def _passage(number: int, scored: ScoredChunk) -> schema.Passage:
    c = scored.chunk
    return schema.Passage(
        number=number,
        doc_id=c.doc_id,
        document=c.doc_name,
        page_start=c.page_start,
        page_end=c.page_end,
        score=round(float(scored.score), 6),
        ranks=dict(scored.ranks),
        similarity=scored.similarity,
        chunk_id=c.id,
        text=c.text,
    )


def _passages(sources: list[ScoredChunk]) -> list[schema.Passage]:
    return [_passage(i, s) for i, s in enumerate(sources, start=1)]


def passage_to_dict(number: int, scored: ScoredChunk) -> dict[str, Any]:
    """A retrieved passage; ``number`` is its rank in a search and its [n] in an answer."""
    return _passage(number, scored).model_dump()


def _scored(p: schema.Passage) -> ScoredChunk:
    id_ = p.chunk_id or chunk_id(p.doc_id, 0)
    chunk = Chunk(
        id=id_,
        doc_id=p.doc_id,
        ordinal=chunk_ordinal(id_),
        text=p.text,
        page_start=p.page_start,
        page_end=p.page_end,
        doc_name=p.document,
    )
    return ScoredChunk(chunk=chunk, score=p.score, ranks=dict(p.ranks), similarity=p.similarity)


def passage_from_dict(d: dict[str, Any]) -> ScoredChunk:
    return _scored(schema.Passage.model_validate({"number": 0, **d}))


def _citation(c: Citation) -> schema.Citation:
    return schema.Citation(
        number=c.number,
        doc_id=c.doc_id,
        document=c.doc_name,
        page_start=c.page_start,
        page_end=c.page_end,
        inferred=c.inferred,
    )


def _cited(c: schema.Citation) -> Citation:
    return Citation(
        number=c.number,
        doc_id=c.doc_id,
        doc_name=c.document,
        page_start=c.page_start,
        page_end=c.page_end,
        inferred=c.inferred,
    )


def cited_passages(done: DoneEvent) -> list[schema.CitedPassage]:
    """Each citation of ``done`` with the text of the passage it points at."""
    out = []
    for c in done.citations:
        source = done.sources[c.number - 1] if 0 < c.number <= len(done.sources) else None
        out.append(
            schema.CitedPassage(
                **_citation(c).model_dump(), text=source.chunk.text if source else ""
            )
        )
    return out


def tool_answer_to_dict(done: DoneEvent, model: str) -> dict[str, Any]:
    """MCP ``ask``'s result; ``model``: what wrote the answer, as a chat completion names it."""
    return schema.ToolAnswer(
        answer=done.answer,
        citations=cited_passages(done),
        sources=_passages(done.sources),
        backend=done.backend,
        model=model,
        mode=done.mode,
        error=done.error,
        unmentioned=list(done.unmentioned),
    ).model_dump()


def citation_to_dict(c: Citation) -> dict[str, Any]:
    return _citation(c).model_dump()


def citation_from_dict(d: dict[str, Any]) -> Citation:
    return _cited(schema.Citation.model_validate(d))


def document_to_dict(doc: DocumentRecord, stored_bytes: int = 0) -> dict[str, Any]:
    """A document; ``stored_bytes``: its kept original and word boxes on disk."""
    return Document(**dataclasses.asdict(doc), stored_bytes=stored_bytes).model_dump()


def documents_to_dicts(docs: list[DocumentRecord], originals: Any) -> list[dict[str, Any]]:
    """The documents as every lister shows them, with what ``originals`` keeps of each."""
    return [document_to_dict(d, originals.stored_bytes(d.id)) for d in docs]


def document_from_dict(d: dict[str, Any]) -> DocumentRecord:
    doc = Document.model_validate(d)
    names = {f.name for f in dataclasses.fields(DocumentRecord)}
    return DocumentRecord(**{k: v for k, v in doc.model_dump().items() if k in names})


def search_to_dict(result: Any) -> dict[str, Any]:
    """A ``SearchResult``: the query, timings in ms and the passages, best first."""
    return SearchResults(
        query=result.query, timings=dict(result.timings), results=_passages(list(result.results))
    ).model_dump()


# --- the answer --------------------------------------------------------------------------------
# DoneEvent's fields that the schema's Answer carries as they are (the others are converted)
_CONVERTED = {"citations", "sources", "timings", "chain", "claims"}
_PLAIN = [f.name for f in dataclasses.fields(DoneEvent) if f.name not in _CONVERTED]


def _answer(done: DoneEvent) -> dict[str, Any]:
    return {
        **{name: getattr(done, name) for name in _PLAIN},
        "citations": [_citation(c) for c in done.citations],
        "sources": _passages(done.sources),
        "timings": {k: round(v, 2) for k, v in done.timings.items()},
        "chain": list(done.chain),
        "claims": [claim_to_dict(c) for c in done.claims],
    }


def claim_to_dict(check: ClaimCheck) -> dict[str, Any]:
    """One checked claim: the sentence, its ``[n]``, the verdict, the best source and the
    sources that state it."""
    return schema.Claim.of(check).model_dump()


def claim_from_dict(d: dict[str, Any]) -> ClaimCheck:
    return schema.Claim.model_validate(d).check()


def done_to_dict(done: DoneEvent) -> dict[str, Any]:
    """The final event of an answer (also ``ask --json``)."""
    return schema.Answer(**_answer(done)).model_dump()


def _done(a: schema.Answer) -> DoneEvent:
    return DoneEvent(
        citations=[_cited(c) for c in a.citations],
        sources=[_scored(p) for p in a.sources],
        timings=dict(a.timings),
        chain=tuple(a.chain),
        claims=[c.check() for c in a.claims],
        **{name: getattr(a, name) for name in _PLAIN},
    )


def done_from_dict(d: dict[str, Any]) -> DoneEvent:
    return _done(schema.Answer.model_validate(d))


def queue_to_dict(event: QueueEvent) -> dict[str, Any]:
    """A place in the engine's line (the answer waits for a slot)."""
    return schema.QueueEvent(
        position=event.position, eta_s=round(event.eta_s, 1), message=event.message
    ).model_dump(exclude={"type"})


def _event(event: AskEvent) -> schema.Event:
    if isinstance(event, SourcesEvent):
        return schema.SourcesEvent(
            sources=_passages(event.sources),
            query=event.query,
            retrieval_ms=round(event.retrieval_ms, 2),
        )
    if isinstance(event, StatusEvent):
        return schema.StatusEvent(message=event.message)
    if isinstance(event, TokenEvent):
        return schema.TokenEvent(text=event.text)
    if isinstance(event, QueueEvent):
        return schema.QueueEvent(
            position=event.position, eta_s=round(event.eta_s, 1), message=event.message
        )
    if isinstance(event, BackendSwitchEvent):
        return schema.BackendSwitchEvent(
            from_backend=event.from_backend, to_backend=event.to_backend, reason=event.reason
        )
    return schema.DoneEvent(**_answer(event))


def event_to_dict(event: AskEvent) -> dict[str, Any]:
    """One streamed event as ``{"type": ..., fields}``."""
    return _event(event).model_dump()


_EVENT: TypeAdapter[schema.Event] = TypeAdapter(schema.Event)


def event_from_dict(d: dict[str, Any]) -> AskEvent:
    kind = d.get("type")
    if kind not in ("sources", "status", "token", "queue", "backend_switch", "done"):
        raise ValueError(f"unknown event type {kind!r}")
    e = _EVENT.validate_python(d)
    if isinstance(e, schema.SourcesEvent):
        return SourcesEvent(
            sources=[_scored(p) for p in e.sources], retrieval_ms=e.retrieval_ms, query=e.query
        )
    if isinstance(e, schema.StatusEvent):
        return StatusEvent(e.message)
    if isinstance(e, schema.TokenEvent):
        return TokenEvent(e.text)
    if isinstance(e, schema.QueueEvent):
        return QueueEvent(e.position, e.eta_s, e.message)
    if isinstance(e, schema.BackendSwitchEvent):
        return BackendSwitchEvent(e.from_backend, e.to_backend, e.reason)
    return _done(e)


# --- the plan ----------------------------------------------------------------------------------
def plan_to_dict(plan: BackendPlan, answering: Answering) -> dict[str, Any]:
    """The backends the next question tries and what answers it (``GET /api/backends``)."""
    return Plan.model_validate({**plan.as_dict(), "answering": answering.as_dict()}).model_dump()


def plan_from_dict(d: dict[str, Any]) -> tuple[BackendPlan, Answering | None]:
    from src.answer.answering import Answering
    from src.models.backends import BackendPlan

    p = Plan.model_validate(d)
    plan = BackendPlan(
        names=tuple(p.chain),
        models=dict(p.models),
        reasons=tuple(p.reasons),
        fallback_note=p.fallback_note,
        chosen_by=dict(p.chosen_by),
        fallback=tuple(p.fallback),
    )
    answering = Answering.from_dict(p.answering.model_dump()) if p.answering else None
    return plan, answering


# --- errors -------------------------------------------------------------------------------------
def error_body(
    message: str,
    *,
    code: str,
    hint: str,
    kind: str = "invalid_request_error",
    param: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error shape, the one builder of every error body the API sends: ``code`` is a
    name (the Olympus error class), ``hint`` how to fix it."""
    detail = ErrorDetail(message=message, type=kind, param=param, code=code, hint=hint)
    return ErrorBody(error=detail).model_dump()


def error_to_dict(exc: OlympusError, *, kind: str = "invalid_request_error") -> dict[str, Any]:
    """A typed error as ``error_body``; ``param`` when the error names the request field."""
    return error_body(
        exc.message,
        code=type(exc).__name__,
        hint=exc.hint or "",
        kind=kind,
        param=getattr(exc, "param", None),
    )


def error_from_dict(d: dict[str, Any]) -> OlympusError:
    """The typed error an API answer describes (``OlympusError`` when the class is unknown)."""
    inner = d.get("error")
    body: dict[str, Any] = inner if isinstance(inner, dict) else d
    detail = ErrorDetail.model_validate(
        {"message": "", **{k: str(body[k]) for k in ("message", "code", "hint") if body.get(k)}}
    )
    cls = getattr(errors, detail.code, None)
    if not (isinstance(cls, type) and issubclass(cls, OlympusError)):
        cls = OlympusError
    return cls(str(detail.message or "the Olympus service failed"), hint=detail.hint or None)
