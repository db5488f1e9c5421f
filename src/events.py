"""Typed events yielded by ``RAGPipeline.ask`` (and rendered by the CLI and the UI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared_utils.types import ScoredChunk


@dataclass(frozen=True, slots=True)
class SourcesEvent:
    """Retrieved sources, numbered [1]..[n] in order; sent before any token."""

    sources: list[ScoredChunk]
    retrieval_ms: float
    query: str = ""  # the retrieval query (the question, made standalone for follow-ups)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """What is happening now, e.g. "waiting for first token from llamacpp"."""

    message: str


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """Every slot of the engine is busy: where this question stands in line, repeated while
    it waits ("2nd in line, about 20 s"). ``position`` 1 is next."""

    position: int
    eta_s: float
    message: str


@dataclass(frozen=True, slots=True)
class TokenEvent:
    text: str


@dataclass(frozen=True, slots=True)
class BackendSwitchEvent:
    """The chain moved from one backend to the next, and why."""

    from_backend: str
    to_backend: str
    reason: str


@dataclass(frozen=True, slots=True)
class Citation:
    number: int  # the [n] in the answer
    doc_id: str
    doc_name: str
    page_start: int
    page_end: int
    inferred: bool = False  # added by Olympus: the model stated it without citing the source


ClaimStatus = Literal["supported", "unverified", "contradicted", "miscited", "uncited", "no_claim"]


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """One sentence of an answer checked against the passages it cites (``src/answer/claims.py``
    says what each status means)."""

    sentence: str  # as written in the answer, markers included
    cited: tuple[int, ...]  # the [n] numbers the sentence carries
    status: ClaimStatus
    support: float  # share of its content words found in the best cited source (0 if none)
    best: int | None = None  # the source that supports it best, when one does
    stating: tuple[int, ...] = ()  # the sources that state it (verify it), cited or not

    @property
    def backed(self) -> bool:
        """A cited source shares its words and specifics (verified or not)."""
        return self.status in ("supported", "unverified")


@dataclass(frozen=True, slots=True)
class DoneEvent:
    """The final event: the whole answer and how it was made."""

    answer: str
    backend: str
    citations: list[Citation]
    sources: list[ScoredChunk]
    timings: dict[str, float]  # retrieval_ms, first_token_ms, first_text_ms, total_ms, ...
    prompt_tokens: int = 0
    dropped_sources: int = 0
    removed_citations: list[int] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # backend -> why it was skipped
    interrupted: bool = False  # a backend failed mid-answer; the text is what was streamed
    error: str = ""
    backend_name: str = ""  # registry name of the backend that answered ("" if none)
    model: str = ""  # the model that wrote the answer ("" for extractive/none)
    # what wrote it, as every place names it: the model, or "source extracts (why)"
    # (src/answer/answering.py; "" when nothing answered from the documents)
    answered_by: str = ""
    fallback_note: str = ""  # set when a small fallback model answered instead of the chosen one
    chain: tuple[str, ...] = ()  # the backends this answer could try, in order
    # how the answer was made: "model", "extract" (tiny-model mode: the model was not asked),
    # "model+extract" (the extract follows a model answer no source backs), "extract+model"
    # (a small model: the evidence first, then what it adds that a source supports),
    # "abstained" (no source was relevant enough), "" (no documents / no match); and why
    mode: str = ""
    mode_reason: str = ""
    # a small model's own text as it wrote it, kept back (not streamed): ``answer`` has only
    # what it adds that a source supports; "" when the model's text was the stream
    model_text: str = ""
    loop_stopped: bool = False  # the model repeated itself and was stopped
    unsupported: list[str] = field(default_factory=list)  # claims no source supports
    # the check of the answer as shown (src/answer/claims.py): claims a cited passage states
    # (the ✓), and claims whose passage shares their words without stating them (not verified)
    verified: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    supported_share: float | None = None  # share of claims whose citation supports them
    # every claim of the final answer, checked against the passage it cites (the UI shows them)
    claims: list[ClaimCheck] = field(default_factory=list)
    # words carrying the question that no source mentions: the answer opens by saying so
    # (src/answer/caveat.py)
    unmentioned: list[str] = field(default_factory=list)


AskEvent = SourcesEvent | StatusEvent | QueueEvent | TokenEvent | BackendSwitchEvent | DoneEvent
