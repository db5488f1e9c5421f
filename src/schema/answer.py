"""Passages, citations, the answer and the events of ``POST /api/ask`` (one per line)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from src.events import ClaimCheck, ClaimStatus
from src.schema import WireModel


class Passage(WireModel):
    """A retrieved passage with its place in the ranking and its text: a search result, an
    answer's source."""

    number: int = Field(description="its rank in a search and its [n] in an answer")
    doc_id: str
    document: str = Field(default="", description="the document's name")
    page_start: int = Field(description="1-based, inclusive")
    page_end: int = Field(description="1-based, inclusive")
    score: float = Field(default=0.0, description="the fused retrieval score (higher is better)")
    ranks: dict[str, int] = Field(
        default_factory=dict, description="rank in each retriever, e.g. dense, bm25"
    )
    similarity: float | None = Field(default=None, description="cosine similarity of the dense leg")
    chunk_id: str = Field(default="", description="<doc_id>:<ordinal, 6 digits>")
    text: str


class Citation(WireModel):
    """A [n] of the answer and the pages it points to (an answer's ``citations``)."""

    number: int = Field(description="the [n] in the answer")
    doc_id: str
    document: str = ""
    page_start: int
    page_end: int
    inferred: bool = Field(
        default=False,
        description="Olympus attributed the sentence; the model did not write the [n]",
    )


class CitedPassage(Citation):
    """A citation with the text of the passage it points at: ``citations`` of a chat
    completion and of MCP ``ask``."""

    text: str = ""


class Claim(WireModel):
    """One sentence of the answer checked against the passages it cites, once, where the answer
    is made; the Chat page and the Markdown download show these marks as they arrived.
    ``status``: ``supported`` (a cited passage states it: the ✓), ``unverified`` (shares its
    passage's words without being stated by it: no ✓, not struck), ``contradicted`` (the
    passage says otherwise), ``miscited`` (the passage it cites does not say it), ``uncited``,
    ``no_claim`` (nothing to check)."""

    sentence: str = Field(description="as written in the answer, markers included")
    cited: list[int] = Field(default_factory=list, description="the [n] numbers it carries")
    status: ClaimStatus = Field(description="supported is the ✓")
    support: float = Field(
        default=0.0, description="share of its content words in the best cited source"
    )
    best: int | None = Field(default=None, description="the source that supports it best")
    stating: list[int] = Field(
        default_factory=list, description="the sources that state it, cited or not"
    )

    @classmethod
    def of(cls, check: ClaimCheck) -> Claim:
        return cls(
            sentence=check.sentence,
            cited=list(check.cited),
            status=check.status,
            support=check.support,
            best=check.best,
            stating=list(check.stating),
        )

    def check(self) -> ClaimCheck:
        return ClaimCheck(
            sentence=self.sentence,
            cited=tuple(self.cited),
            status=self.status,
            support=self.support,
            best=self.best,
            stating=tuple(self.stating),
        )


class Answer(WireModel):
    """The whole answer and how it was made: ``ask --json``, ``olympus`` of a chat completion,
    MCP ``ask`` (some of it), the ``done`` event."""

    answer: str
    backend: str
    backend_name: str = Field(default="", description="registry name of the backend that answered")
    model: str = Field(default="", description="the model that wrote the answer")
    answered_by: str = Field(default="", description='the model, or "source extracts (why)"')
    fallback_note: str = Field(default="", description="set when a fallback model answered")
    citations: list[Citation] = Field(default_factory=list)
    sources: list[Passage] = Field(default_factory=list)
    timings: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "ms: retrieval_ms, first_token_ms (the engine's), first_text_ms (the first text "
            "shown), total_ms, ..."
        ),
    )
    prompt_tokens: int = 0
    dropped_sources: int = 0
    removed_citations: list[int] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict, description="backend -> why skipped")
    interrupted: bool = Field(default=False, description="a backend failed mid-answer")
    error: str = ""
    chain: list[str] = Field(
        default_factory=list, description="the backends this answer could try, in order"
    )
    mode: str = Field(
        default="", description='model, extract, model+extract, extract+model, abstained or ""'
    )
    mode_reason: str = ""
    model_text: str = Field(
        default="",
        description="a small model's own text, kept back: the answer has only what it adds "
        'that a source supports ("" when the stream was the model\'s text)',
    )
    loop_stopped: bool = Field(
        default=False, description="the model repeated itself and was stopped"
    )
    unsupported: list[str] = Field(
        default_factory=list, description="sentences struck through, their citations removed"
    )
    supported_share: float | None = Field(
        default=None, description="the share of the model's claims that are verified"
    )
    verified: list[str] = Field(
        default_factory=list, description="sentences a cited passage states (the Chat page's ✓)"
    )
    unverified: list[str] = Field(
        default_factory=list,
        description="sentences that share their passage's words without "
        "being stated by it: no ✓, not struck",
    )
    claims: list[Claim] = Field(
        default_factory=list, description="every checked sentence with its verdict"
    )
    unmentioned: list[str] = Field(
        default_factory=list,
        description="words carrying the question that none of the sources mentions; the "
        "answer opens by saying so",
    )


class ToolAnswer(WireModel):
    """What MCP's ``ask`` tool returns: the answer, its citations with their text and the
    sources; ``model`` is what wrote the answer, as a chat completion's ``model``."""

    answer: str
    citations: list[CitedPassage] = Field(default_factory=list)
    sources: list[Passage] = Field(default_factory=list)
    backend: str = ""
    model: str = ""
    mode: str = ""
    error: str = ""
    unmentioned: list[str] = Field(
        default_factory=list, description="words of the question none of the sources mentions"
    )


class SourcesEvent(WireModel):
    """A line of ``POST /api/ask``: the retrieved sources, numbered [1]..[n]; sent before any
    token."""

    type: Literal["sources"] = "sources"
    sources: list[Passage] = Field(default_factory=list)
    retrieval_ms: float = 0.0
    query: str = Field(default="", description="the retrieval query (standalone for follow-ups)")


class StatusEvent(WireModel):
    """A line of ``POST /api/ask``: what is happening now."""

    type: Literal["status"] = "status"
    message: str = ""


class TokenEvent(WireModel):
    """A line of ``POST /api/ask``: a piece of the answer's text."""

    type: Literal["token"] = "token"
    text: str = ""


class QueueEvent(WireModel):
    """A line of ``POST /api/ask``: every slot is busy; where the question stands in line
    (every 2 s while it waits; send ``"session"`` in the request to be your own asker in the
    fair line)."""

    type: Literal["queue"] = "queue"
    position: int = Field(description="1 is next")
    eta_s: float = 0.0
    message: str = ""


class BackendSwitchEvent(WireModel):
    """A line of ``POST /api/ask``: the chain moved from one backend to the next, and why."""

    type: Literal["backend_switch"] = "backend_switch"
    from_backend: str
    to_backend: str
    reason: str = ""


class DoneEvent(Answer):
    """The last line of ``POST /api/ask``: the answer's fields and ``type``."""

    type: Literal["done"] = "done"


Event = Annotated[
    SourcesEvent | StatusEvent | TokenEvent | QueueEvent | BackendSwitchEvent | DoneEvent,
    Field(discriminator="type"),
]
"""One line of ``POST /api/ask`` (an error is sent as ``{"type": "error", "error": {...}}``)."""
