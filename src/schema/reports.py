"""What the CLI's reports print with ``--json``: ``keys list``, ``models list`` and ``doctor``.

A report prints what was found: a field its writer did not set (a component without a URL,
an active-model record without a path) is left out, so these are written with
``model_dump(mode="json", exclude_unset=True)`` (:func:`report_json`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from src.schema import WireModel
from src.schema.plans import Plan
from src.schema.status import Status


def report_json(report: BaseModel | Sequence[BaseModel]) -> Any:
    """``report`` as the JSON-ready value the CLI prints: only the fields its writer set."""
    if isinstance(report, BaseModel):
        return report.model_dump(mode="json", exclude_unset=True)
    return [item.model_dump(mode="json", exclude_unset=True) for item in report]


# --- keys list --json ----------------------------------------------------------------------
class ApiKeyRow(WireModel):
    """One API key of ``keys list --json`` (a JSON array of these): never the key, nor its
    hash."""

    id: str
    name: str = Field(description="who or what uses it")
    shown: str = Field(description="the key's first characters, to recognise it")
    created_at: float = Field(description="Unix time")
    revoked_at: float | None = Field(default=None, description="Unix time; null while active")
    scope: str = Field(description="read, write or admin")


# --- models list --json --------------------------------------------------------------------
class ActiveModel(WireModel):
    """``active`` of ``models list --json``: the ``models use`` record (``active_model.json``),
    ``{}`` when there is none."""

    name: str = Field(default="", description="the model as the user named it")
    model: str = Field(default="", description="its catalog id")
    path: str = Field(default="", description="the GGUF file llama.cpp serves")
    ollama_model: str = Field(default="", description="its name in Ollama")
    set_at: float | None = Field(default=None, description="Unix time")


class CatalogRow(WireModel):
    """A catalog entry of ``models list --json`` and whether it is here."""

    id: str
    tier: str
    repo: str = Field(description='the Hub repo, or "(bundled: PACKAGE)"')
    quant: str
    size_gb: float
    gated: bool
    licence: str
    on_disk: bool
    in_ollama: bool


class ModelFile(WireModel):
    """A complete GGUF model in the models folder (``files`` of ``models list --json``)."""

    path: str
    size_bytes: int


class OllamaModelRow(WireModel):
    """A model Ollama has (``ollama`` of ``models list --json``, with the Ollama engine)."""

    name: str
    size_bytes: int
    quant: str
    family: str
    parameter_size: str
    context_length: int | None = Field(description="the model's trained maximum")
    num_ctx: int | None = Field(description="the context Ollama will use, when set")


class ModelsReport(WireModel):
    """``models list --json``: the recommendation for this machine, the catalog, the files on
    disk, Ollama's models and the active model."""

    recommended: str = Field(description="the catalog id the profile chose")
    engine: str = Field(description="ollama, llamacpp or none")
    why: list[str] = Field(description="the profile's reasons for the model")
    active: ActiveModel
    catalog: list[CatalogRow]
    files: list[ModelFile]
    ollama: list[OllamaModelRow] = Field(description="empty unless the engine is Ollama")
    ollama_error: str = Field(description="why Ollama could not be listed")


# --- doctor --json -------------------------------------------------------------------------
class Detected(WireModel):
    """``profile.detected`` of ``doctor --json``: the machine as it was found."""

    on_space: bool = Field(description="running on a Hugging Face Space")
    space_id: str
    in_container: bool
    gpu_name: str
    gpu_memory_mb: int
    gpu_count: int
    cpu_cores: float = Field(description="usable: affinity, cgroup quota, Space limit")
    memory_bytes: int = Field(description="usable: MemTotal, cgroup limit, Space limit")
    memory_gb: float
    disk_free_bytes: int
    ollama_path: str = Field(description='the ollama binary ("": none)')


class Chosen(WireModel):
    """``profile.chosen`` of ``doctor --json``: what the profile derived (each yields to its
    ``OLYMPUS_*`` setting), the backend chain and what answers now."""

    engine: str
    model: str = Field(description="catalog id")
    tier: str
    quant: str
    ollama_model: str
    context_tokens: int
    threads: int
    parallel_answers: int = Field(description="the engine's slots")
    answer_queue: int = Field(description="questions that may wait for a slot")
    connect_timeout_s: float
    first_token_timeout_s: float
    stall_timeout_s: float
    port: int
    address: str
    top_k: int
    backend_chain: list[str]
    answering_model: str = Field(description="what every place names as answering")


class DoctorProfile(WireModel):
    """``profile`` of ``doctor --json``."""

    detected: Detected
    chosen: Chosen
    reasons: list[str] = Field(description="why, for each choice")


class ComponentHealth(WireModel):
    """A component of ``doctor --json`` (the engine, the model, each store and backend); a
    field that does not apply to it is left out."""

    model_config = ConfigDict(extra="allow", frozen=True)

    ok: bool
    detail: Any = Field(default="", description="what was found (the engine's own reply, or words)")
    set_up: bool | None = Field(
        default=None, description="false: an optional backend that is not set up (not a failure)"
    )
    url: str | None = Field(default=None, description="where the engine was asked")
    model: str | None = None
    path: str | None = Field(default=None, description="the model's GGUF file")


class DoctorReport(WireModel):
    """``doctor --json``: what Olympus detected and chose, and the health of each part; the
    exit code is 0 when ``ok``."""

    schema_version: int
    profile: DoctorProfile
    backends: Plan
    components: dict[str, ComponentHealth]
    status: Status = Field(description="the sections status.json holds")
    warnings: list[str]
    ok: bool = Field(description="the stores are healthy and a language model can answer")
