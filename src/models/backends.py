"""Which backends answer, in which order, with which model: the one owner of that fact.

Every answer asks ``plan_backends`` afresh (a few small file reads), so ``python -m src models
use NAME`` takes effect on the next question, in the UI and the CLI, with no restart.

Order of the chain (first match wins):
  1. ``OLYMPUS_BACKENDS`` (explicit setting)
  2. the engine the profile chose: its backend first (``ollama`` or ``llamacpp``), then
     ``hf_inference``; ``engine=none`` skips the first
The extractive backend (no language model) always ends the chain as the safety net.

Model of the ``ollama`` backend (first match wins):
  1. ``OLYMPUS_OLLAMA_MODEL``, then ``OLYMPUS_MODEL`` (explicit settings)
  2. the ``models use`` record (``<data_dir>/active_model.json``), unless provisioning
     finished after it was written and served another model (the record named one that is gone)
  3. what provisioning made ready (``status.json``: the model it imported, or its fallback)
  4. the profile's catalog choice for this hardware
The ``llamacpp`` backend's model is the GGUF file the engine serves (``status.json``'s engine
section, written by the supervisor), chosen by ``OLYMPUS_LLAMACPP_MODEL_PATH`` or
``OLYMPUS_MODEL`` when set, else by the same record / provisioning / profile order. (What the
engine really serves, and whether that model writes, is ``src/answer/answering.py``'s to say.)
``hf_inference`` uses ``OLYMPUS_HF_INFERENCE_MODEL``.

>>> default_order("ollama")
('ollama', 'hf_inference', 'extractive')
>>> default_order("none")
('hf_inference', 'extractive')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared_utils.errors import UnknownBackend
from shared_utils.generation.registry import BACKENDS, get_backend
from src.schema.status import ProvisioningSection, Status, read_status

if TYPE_CHECKING:
    from shared_utils.generation.base import Backend
    from src.models.profile import Profile
    from src.settings import Settings

SAFETY_NET = "extractive"
ENGINE_BACKENDS = {"ollama": "ollama", "llamacpp": "llamacpp"}  # engine -> its backend


def default_order(engine: str) -> tuple[str, ...]:
    """The chain for an engine ("ollama", "llamacpp" or "none") when nothing is set."""
    first = ENGINE_BACKENDS.get(engine)
    return (*((first,) if first else ()), "hf_inference", SAFETY_NET)


def check_names(names: list[str] | tuple[str, ...]) -> None:
    """Raise UnknownBackend, listing the valid names, for any name not registered."""
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise UnknownBackend(
            f"Unknown backend {', '.join(map(repr, unknown))}; valid names: {', '.join(BACKENDS)}.",
            hint="Use one of those names in OLYMPUS_BACKENDS or --backend.",
        )


@dataclass(frozen=True, slots=True)
class BackendPlan:
    """The chain to try and the model each backend uses, with the reason for each choice."""

    names: tuple[str, ...]
    models: dict[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    fallback_note: str = ""  # set when a small fallback model answers instead of the chosen one
    # what chose each engine backend's model: a setting's name ("OLYMPUS_OLLAMA_MODEL"), or
    # "models use (active_model.json)", "provisioned", ...
    chosen_by: dict[str, str] = field(default_factory=dict)
    # (the model that could not be had, why) when a small fallback model serves instead; what
    # answers is the subject of the note (``src/answer/answering.py``: the model or the extracts)
    fallback: tuple[str, ...] = ()

    def set_by_setting(self, name: str) -> str:
        """The setting that fixes backend ``name``'s model ("" when none does)."""
        why = self.chosen_by.get(name, "")
        return why if why.startswith("OLYMPUS_") else ""

    def model(self, name: str) -> str:
        return self.models.get(name, "")

    def forced(self, name: str) -> BackendPlan:
        """The plan with ``name`` forced (the safety net kept behind it)."""
        check_names([name])
        names = (name,) if name == SAFETY_NET else (name, SAFETY_NET)
        # "this question" when it changed the chain (a chain of extracts only stays as it was)
        chosen = (
            {**self.chosen_by, name: "this question"} if names != self.names else (self.chosen_by)
        )
        return BackendPlan(
            names,
            self.models,
            (*self.reasons, f"backend {name}: chosen for this question"),
            self._kept_note(),
            chosen,
            self.fallback,
        )

    def with_model(self, model: str) -> BackendPlan:
        """The plan with the first engine backend answering with ``model`` (a chat's choice).
        Ollama loads any installed model per request; llama.cpp serves one model, so another
        one is refused with the way to switch it (for everyone)."""
        head = next((n for n in self.names if n in ENGINE_BACKENDS.values()), "")
        if not model or not head or model == self.model(head):
            return self
        if head != "ollama":
            from shared_utils.errors import ModelNotFound

            raise ModelNotFound(
                f"llama.cpp is serving {self.model(head) or 'another model'}, not {model}.",
                hint="llama.cpp serves one model at a time: choose the default model for this "
                "chat, or ask an administrator to switch the model on the Models page.",
            )
        return BackendPlan(
            self.names,
            {**self.models, head: model},
            (*self.reasons, f"{head} model {model}: chosen for this chat"),
            self._kept_note(),
            {**self.chosen_by, head: "this chat"},
            self.fallback,
        )

    def _kept_note(self) -> str:
        """The note once a question or chat overrides the choice: the fallback's still holds,
        "chosen with models use" no longer does."""
        return self.fallback_note if self.fallback else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "chain": list(self.names),
            "models": dict(self.models),
            "reasons": list(self.reasons),
            "fallback_note": self.fallback_note,
            "chosen_by": dict(self.chosen_by),
            "fallback": list(self.fallback),
        }


def plan_backends(
    settings: Settings,
    profile: Profile | None,
    *,
    active: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
) -> BackendPlan:
    """Decide the chain and models now (see the module docstring for the precedence).
    ``active`` and ``status`` default to the records in the data dir."""
    if active is None:
        from src.models.active import read_active

        active = read_active(settings)
    if status is None:
        from src.status import StatusFile

        status = StatusFile(settings.status_path).read()
    engine = profile.engine if profile is not None else "llamacpp"
    reasons: list[str] = []
    if settings.backend_chain:
        names = tuple(settings.backend_chain)
        reasons.append(f"backends {' -> '.join(names)}: OLYMPUS_BACKENDS")
    else:
        names = default_order(engine)
        reasons.append(f"backends {' -> '.join(names)}: engine {engine}")
    if SAFETY_NET not in names:
        names = (*names, SAFETY_NET)
    models: dict[str, str] = {}
    chosen_by: dict[str, str] = {}
    typed, _ = read_status(status)
    prov = typed.provisioning
    if "ollama" in names:
        models["ollama"], chosen_by["ollama"] = _ollama_model(settings, profile, active, prov)
        reasons.append(f"ollama model {models['ollama'] or '(none)'}: {chosen_by['ollama']}")
    if "llamacpp" in names:
        models["llamacpp"], chosen_by["llamacpp"] = _llamacpp_model(
            settings, profile, active, typed
        )
        reasons.append(f"llama.cpp model {models['llamacpp'] or '(none)'}: {chosen_by['llamacpp']}")
    if "hf_inference" in names:
        models["hf_inference"] = settings.hf_inference_model
    note = ""
    fallback: tuple[str, ...] = ()
    if chosen_after_provisioning(active, prov):  # the user's choice, not a fallback
        note = CHOSEN_NOTE.format(answering=active.get("name") or active.get("model") or "")
    elif prov.source == "offline-fallback" and prov.phase == "ready":
        wanted = profile.model if profile is not None else "the recommended model"
        why = "; ".join(prov.notes) or "the Hugging Face Hub cannot be reached"
        fallback = (wanted, why)
        note = fallback_sentence(prov.model or "a small model", wanted, why)
    return BackendPlan(names, models, tuple(reasons), note, chosen_by, fallback)


CHOSEN_NOTE = "Answering now: {answering}, chosen with python -m src models use."


def chosen_after_provisioning(active: dict[str, Any], prov: ProvisioningSection) -> bool:
    """Whether a ``models use`` record names a model and was written after provisioning last
    finished: then that choice, not provisioning's (nor its offline fallback), answers."""
    return bool(active.get("name") or active.get("path")) and _newer(active, prov)


def fallback_sentence(answering: str, wanted: str, why: str) -> str:
    """The note shown while a small fallback model serves: ``answering`` names what answers."""
    return (
        f"Answering now: {answering}, because {wanted} could not be downloaded ({why}). "
        f"Download it when the Hub is reachable: python -m src models pull {wanted}"
    )


def build_backend(name: str, settings: Settings, plan: BackendPlan) -> Backend:
    """Backend ``name`` with the model the plan chose. Raises UnknownBackend or
    BackendNotConfigured (saying which setting is missing)."""
    check_names([name])
    model = plan.model(name)
    return get_backend(name, settings, **({"model": model} if model else {}))


# --- the precedence, one backend at a time ------------------------------------------------------
def _ollama_model(
    settings: Settings, profile: Profile | None, active: dict[str, Any], prov: ProvisioningSection
) -> tuple[str, str]:
    if settings.ollama_model:
        return settings.ollama_model, "OLYMPUS_OLLAMA_MODEL"
    if settings.model and profile is not None:
        return profile.ollama_model, "OLYMPUS_MODEL"
    provisioned = prov.ollama_model if prov.phase == "ready" else ""
    recorded = str(active.get("ollama_model") or "") or _catalog_ollama_name(settings, active)
    if recorded and (not provisioned or _newer(active, prov) or provisioned == recorded):
        return recorded, "models use (active_model.json)"
    if provisioned:
        return provisioned, f"provisioned ({prov.source or 'ready'})"
    if profile is not None and profile.ollama_model:
        return profile.ollama_model, "catalog choice for this hardware"
    return "", "nothing chosen yet"


def _llamacpp_model(
    settings: Settings, profile: Profile | None, active: dict[str, Any], status: Status
) -> tuple[str, str]:
    served = status.engine.model
    if settings.llamacpp_model_path:  # the engine serves it too: the setting chose it
        path = Path(served or settings.llamacpp_model_path)
        return model_label(path, settings), "OLYMPUS_LLAMACPP_MODEL_PATH"
    if served:  # OLYMPUS_MODEL chose what provisioning gave the engine, else the record did
        return (
            model_label(Path(served), settings),
            "OLYMPUS_MODEL" if settings.model else "the file the engine serves",
        )
    if settings.model:
        return settings.model, "OLYMPUS_MODEL"
    if active.get("name"):
        return str(active["name"]), "models use (active_model.json)"
    prov = status.provisioning
    if prov.phase == "ready" and prov.model:
        return prov.model, "provisioned"
    if profile is not None:
        return profile.model, "catalog choice for this hardware"
    return "", "nothing chosen yet"


def model_label(path: Path, settings: Settings) -> str:
    """A GGUF path as the user knows it: its catalog id, else the file name."""
    from src.models.catalog import load_catalog

    try:
        catalog = load_catalog(settings.catalog_path)
    except Exception:  # noqa: BLE001 - a broken catalog is reported elsewhere; the name will do
        return path.name
    for entry in catalog.entries:
        if path.name in entry.files:
            return entry.id
    return path.name


def _catalog_ollama_name(settings: Settings, active: dict[str, Any]) -> str:
    if not active.get("model"):
        return ""
    from src.models.catalog import load_catalog

    entry = next(
        (e for e in load_catalog(settings.catalog_path).entries if e.id == active["model"]), None
    )
    return entry.ollama_name if entry is not None else ""


def _newer(active: dict[str, Any], prov: ProvisioningSection) -> bool:
    """Whether the ``models use`` record was written after provisioning last finished."""
    try:
        return float(active.get("set_at") or 0) >= float(prov.updated_at or 0)
    except (TypeError, ValueError):
        return True
