"""The sections of ``DATA_DIR/status.json``: how the supervisor tells the UI, the CLI and
``doctor`` what is going on. Every section carries ``updated_at`` (Unix time); a writer may add
fields of its own (kept as they are), and a reader of an older file gets the defaults."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from src.schema import WireModel


class Section(WireModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    updated_at: float | None = Field(default=None, description="Unix time of the last write")


class SupervisorSection(Section):
    """``supervisor`` of status.json: ``startup.py`` itself."""

    pid: int | None = None
    started: float | None = Field(default=None, description="Unix time this run started")
    state: str = Field(default="", description="starting, running, stopping, stopped or failed")
    exit_code: int | None = None
    error: str | None = ""


class ChildSection(Section):
    """``api``, ``streamlit``, ``front`` and ``arangod`` of status.json: a child process the
    supervisor runs."""

    state: str = Field(
        default="", description="pending, starting, ready, restarting, down, stopped"
    )
    url: str = ""
    pid: int | None = None
    restarts: int = 0
    last_error: str | None = ""
    ready_after_s: float | None = None
    ready_at_s: float | None = Field(
        default=None, description="seconds after the supervisor started"
    )
    restart_in_s: float | None = None
    message: str = ""


class EngineSection(ChildSection):
    """``engine`` of status.json: Ollama, llama.cpp, an external Ollama, or none."""

    engine: str = Field(default="", description="ollama, llamacpp or none")
    model: str = Field(default="", description="the model it serves")


class ProvisioningSection(Section):
    """``provisioning`` of status.json: getting the model (download, import, warm-up) by the
    supervisor or the Models page."""

    phase: str = Field(
        default="",
        description="pending, checking, download, create, "
        "waiting_for_engine, ready, failed, skipped, ...",
    )
    model: str = ""
    bytes: int = 0
    total: int = Field(default=0, description="0 when unknown")
    percent: float | None = None
    speed: float | None = Field(default=None, description="bytes/s")
    eta_s: float | None = None
    message: str | None = ""
    error: str | None = ""
    warning: str = ""
    elapsed_s: float | None = None
    ready_at_s: float | None = None
    warm_up_s: float | None = None
    requested_by: str = Field(default="", description='"ui" when the Models page started it')
    source: str = Field(
        default="",
        description="where the model came from, e.g. present, download, offline-fallback",
    )
    ollama_model: str = Field(default="", description="the model's name in Ollama")
    model_path: str = Field(default="", description="the GGUF file llama.cpp serves")
    notes: list[str] = Field(default_factory=list, description="why, e.g. the Hub is unreachable")


class ProfileSection(Section):
    """``profile`` of status.json: the environment profile (``src/models/profile.py``)."""


SECTIONS: dict[str, type[Section]] = {
    "supervisor": SupervisorSection,
    "engine": EngineSection,
    "api": ChildSection,
    "streamlit": ChildSection,
    "front": ChildSection,
    "arangod": ChildSection,
    "provisioning": ProvisioningSection,
    "profile": ProfileSection,
}
"""Every section by name; a section not named here is read as a ``ChildSection``."""


class Status(WireModel):
    """The whole of ``DATA_DIR/status.json``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    supervisor: SupervisorSection = SupervisorSection()
    engine: EngineSection = EngineSection()
    api: ChildSection = ChildSection()
    streamlit: ChildSection = ChildSection()
    front: ChildSection = ChildSection()
    arangod: ChildSection = ChildSection()
    provisioning: ProvisioningSection = ProvisioningSection()
    profile: ProfileSection = ProfileSection()


def read_status(data: dict[str, Any]) -> tuple[Status, list[tuple[str, str]]]:
    """``data`` (a status.json's object) as ``Status``, and the sections that could not be
    read as (name, why): those read as their defaults, so an older writer breaks nothing."""
    sections: dict[str, Section] = {}
    unreadable: list[tuple[str, str]] = []
    for name, model in SECTIONS.items():
        value = data.get(name)
        if not isinstance(value, dict):
            continue
        try:
            sections[name] = model.model_validate(value)
        except ValidationError as exc:
            unreadable.append((name, str(exc)))
    return Status.model_validate(sections), unreadable


def section_model(name: str) -> type[Section]:
    return SECTIONS.get(name, ChildSection)


def checked(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` of section ``name`` as the schema writes them (ValueError on a wrong type)."""
    return section_model(name).model_validate(fields).model_dump(exclude_unset=True)
