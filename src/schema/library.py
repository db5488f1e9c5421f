"""Documents, search results and ingest jobs."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from shared_utils.types import DocumentStatus
from src.schema import WireModel
from src.schema.answer import Passage

JobState = Literal["queued", "running", "added", "duplicate", "failed", "cancelled"]


class Document(WireModel):
    """A document of the library: ``GET /v1/documents``, ``docs list --json``, MCP
    ``list_documents``."""

    id: str = Field(description="sha256 of the file's bytes")
    name: str
    pages: int
    chunks: int
    size_bytes: int = Field(description="the uploaded file's size")
    added_at: float = Field(description="Unix time")
    status: DocumentStatus = "ready"
    stored_bytes: int = Field(
        default=0, description="the kept original PDF and OCR word boxes on disk"
    )
    parse_report: dict[str, Any] = Field(
        default_factory=dict,
        description="pages read from the text layer, OCR'd, flagged, unreadable",
    )


class SearchResults(WireModel):
    """A search: ``search --json``, ``POST /v1/search``, MCP ``search_documents``."""

    query: str
    timings: dict[str, float] = Field(
        default_factory=dict, description="ms: embed_ms, dense_ms, bm25_ms, fuse_ms, total_ms"
    )
    results: list[Passage] = Field(default_factory=list, description="best first")


class Job(WireModel):
    """An upload being ingested: ``POST /v1/documents``, ``GET /v1/jobs/{id}``."""

    id: int
    name: str
    size_bytes: int
    state: JobState = "queued"
    stage: str = Field(default="", description="the step: parse, embed, store, ...")
    done: int = 0
    total: int = Field(default=0, description="0 when unknown")
    message: str = ""
    hint: str = ""
    doc_id: str = ""
    pages: int = 0
    chunks: int = 0
    cancel_requested: bool = False
    submitted_at: float = Field(default_factory=time.time, description="Unix time")
    finished_at: float | None = Field(default=None, description="Unix time")
