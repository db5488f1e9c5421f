"""A saved chat (``DATA_DIR/chats/<browser>/<id>.json``) and its messages.

A message is written as the Chat page keeps it: the question (``role`` "user") or the
answer (``role`` "assistant") with what the done event said about it. Fields a message does
not have are left out when it is written back, and fields this version does not know are
kept, so a chat saved by an older or newer Olympus loads and saves unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from shared_utils.types import Chunk
from src.events import DoneEvent
from src.schema import WireModel
from src.schema.answer import Claim


class SavedSource(WireModel):
    """An answer's source with its passage text, so the chat shows it after a restart
    (``sources`` of a saved answer)."""

    chunk: Chunk = Field(description="the passage (shared_utils/types.py)")
    score: float = 0.0
    ranks: dict[str, int] = Field(default_factory=dict)
    similarity: float | None = None


class ChatMessage(WireModel):
    """One turn of a chat (``messages`` of a saved chat): the question or the answer and how
    it was made."""

    # kept as json.dumps wrote them before: NaN, not null (which a float field refuses)
    model_config = ConfigDict(extra="allow", frozen=True, ser_json_inf_nan="constants")

    role: Literal["user", "assistant"]
    content: str = Field(default="", description="the question, or the answer's text")
    question: str = Field(default="", description="the question an answer answers")
    query: str = Field(default="", description="the retrieval query (standalone for follow-ups)")
    sources: list[SavedSource | dict[str, Any]] = Field(default_factory=list)
    switches: list[dict[str, str]] = Field(
        default_factory=list, description="{from, to, reason} of each backend switch"
    )
    backend: str = ""
    backend_name: str = ""
    model: str = ""
    answered_by: str = ""
    fallback_note: str = ""
    chain: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(default_factory=dict)
    dropped_sources: int = 0
    interrupted: bool = False
    interrupt_reason: str = Field(default="", description="the done event's error")
    mode: str = ""
    mode_reason: str = ""
    loop_stopped: bool = False
    unsupported: list[str] = Field(default_factory=list)
    unmentioned: list[str] = Field(
        default_factory=list, description="words of the question no source mentions"
    )
    streaming: bool = Field(
        default=False,
        description="still being written (never saved as true: "
        "a run that died is shown as stopped)",
    )
    stopped: bool = Field(default=False, description="the user stopped it")
    error: str = Field(default="", description="why the answer failed, in words for the user")
    hint: str | None = Field(default=None, description="how to fix it")
    scope_note: str = Field(default="", description="a better match outside the chosen documents")


class SavedChat(WireModel):
    """One chat of one browser: ``DATA_DIR/chats/<browser>/<id>.json``."""

    model_config = ConfigDict(extra="allow", frozen=True, ser_json_inf_nan="constants")

    id: str
    title: str = ""
    created_at: float = Field(default=0.0, description="Unix time")
    updated_at: float = Field(default=0.0, description="Unix time")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="the chat's model, temperature and answer length"
    )
    messages: list[ChatMessage] = Field(default_factory=list)


def answer_fields(done: DoneEvent, streamed: str = "") -> dict[str, Any]:
    """What an answer's message takes from its done event (``streamed``: the text so far)."""
    return {
        "content": done.answer or streamed,
        "backend": done.backend,
        "backend_name": done.backend_name or done.backend,
        "model": done.model,
        "answered_by": done.answered_by,
        "fallback_note": done.fallback_note,
        "chain": list(done.chain),
        "timings": dict(done.timings),
        "skipped": dict(done.skipped),
        "dropped_sources": done.dropped_sources,
        "interrupted": done.interrupted,
        "interrupt_reason": done.error,
        "mode": done.mode,
        "mode_reason": done.mode_reason,
        "loop_stopped": done.loop_stopped,
        "unsupported": list(done.unsupported),
        "claims": [Claim.of(c).model_dump() for c in done.claims],
        "unmentioned": list(done.unmentioned),
    }
