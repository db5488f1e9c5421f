"""What answers a question, read from the engine: the one owner of that fact.

The plan (``src/models/backends.py``) says which backends to try and which model each one is set to
use; the engine says which model it really serves and how big it is (llama.cpp's
``GET /v1/models``: the GGUF and ``meta.n_params``; Ollama's ``POST /api/show``:
``general.parameter_count``; ``Backend.served_model``). From both, :func:`decide` says what
writes the next answer:

- the engine's model, named as the user knows it (its catalog id, else its file name);
- or the source extracts, and why: the model has at most ``TINY_MAX_PARAMS`` parameters
  (tiny-model mode, ``OLYMPUS_TINY_MODEL_ANSWERS``), no language model is in the chain, or this
  question asked for extracts.

The answerer decides tiny-model mode and decoding from it; the chat banner, the model picker,
the Models and System pages, ``doctor`` and ``GET /api/backends`` name what answers with
:attr:`Answering.name`; an answer names what wrote it with :func:`answered_by` (the DoneEvent's
``answered_by``: the CLI footer, the UI's summary line, the API's ``model``).

>>> Answering("llamacpp", "smollm2-135m-offline", 134515008.0, True, "extract",
...           too_small("smollm2-135m-offline")).name
'source extracts (model smollm2-135m-offline is too small to write)'
>>> Answering("llamacpp", "qwen2.5-0.5b-instruct", 494e6, True, "model").name
'qwen2.5-0.5b-instruct'
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from src.answer.decoding import TINY_MAX_PARAMS, params_from_name
from src.models.backends import ENGINE_BACKENDS, SAFETY_NET

if TYPE_CHECKING:
    from shared_utils.generation.base import Backend, ServedModel
    from src.models.backends import BackendPlan
    from src.models.profile import Profile
    from src.settings import Settings

logger = structlog.get_logger(__name__)

EXTRACTS = "source extracts"
REPORT_TTL_S = 2.0  # the engine is asked at most this often per backend and model
REPORT_TIMEOUT_S = 1.0
_reports: dict[tuple[str, str, str], tuple[float, ServedModel | None]] = {}
_lock = threading.Lock()


def extracts(why: str) -> str:
    """The name of an answer made of source extracts, with why no model wrote it."""
    return f"{EXTRACTS} ({why})" if why else EXTRACTS


def too_small(model: str) -> str:
    return f"model {model} is too small to write"


@dataclass(frozen=True, slots=True)
class Answering:
    """What writes the next answer: the engine's model (``writer="model"``) or the source
    extracts (``"extract"``, and ``why``)."""

    backend: str  # registry name of the backend at the head of the chain ("" none)
    model: str  # the model as the user knows it ("" no language model)
    params: float | None  # its size, from the engine when it reported, else from its name
    reported: bool  # the engine reported the model (False: the plan's name, engine silent)
    writer: Literal["model", "extract"]
    why: str = ""  # why the extracts answer
    label: str = ""  # the backend as users know it ("llama.cpp (local)")
    note: str = ""  # a small fallback model serves because the chosen one is missing

    @property
    def name(self) -> str:
        """What every place names as answering."""
        return self.model if self.writer == "model" else extracts(self.why)

    @property
    def tiny(self) -> bool:
        return self.params is not None and self.params <= TINY_MAX_PARAMS

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "name": self.name}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Answering:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


def decide(plan: BackendPlan, settings: Settings, head: Backend | None) -> Answering:
    """What answers with ``plan`` when ``head`` (the first backend that could be built) is
    asked first; the engine behind it is asked which model it serves."""
    if head is None or head.name == SAFETY_NET:
        return Answering(
            "", "", None, False, "extract", _why_no_model(plan, head), note=_note(plan, "")
        )
    report = served(head)
    model, params = _identify(head, plan, report, settings)
    writer: Literal["model", "extract"] = "model"
    why = ""
    if params is not None and params <= TINY_MAX_PARAMS and settings.tiny_model_answers != "model":
        writer, why = "extract", too_small(model or head.label)
    answering = Answering(head.name, model, params, report is not None, writer, why, head.label)
    return replace(answering, note=_note(plan, answering.name))


def answering_now(settings: Settings, profile: Profile | None) -> Answering:
    """:func:`decide` for this process's settings (the pages that have no pipeline at hand,
    ``doctor``); the pipeline's ``answering()`` decides the same with its own plan."""
    from shared_utils.errors import OlympusError
    from src.models.backends import build_backend, plan_backends

    plan = plan_backends(settings, profile)
    for name in plan.names:
        try:
            return decide(plan, settings, build_backend(name, settings, plan))
        except OlympusError:  # not set up (no Ollama model chosen, no HF token): the next one
            continue
    return decide(plan, settings, None)


def answered_by(answering: Answering, *, backend_name: str, mode: str, model: str) -> str:
    """What wrote one answer: the model, or the source extracts and why ("" when nothing
    answered from the documents: no documents, no match, abstained)."""
    if backend_name in ("", "none"):
        return ""
    if backend_name == SAFETY_NET:
        return extracts(extract_why(answering))
    if mode == "extract":
        return extracts(set_aside(model or backend_name))
    return model or backend_name


def extract_why(answering: Answering) -> str:
    """Why the extract answers when the extractive backend writes: ``answering.why`` when it
    was chosen, else the model that should have answered did not."""
    if answering.writer == "extract":
        return answering.why
    who = (answering.model if answering.reported else "") or answering.label or "the model"
    return f"{who} did not answer"


def set_aside(model: str) -> str:
    """Why the extract answers when ``model`` wrote an answer that was not kept."""
    return f"the answer of {model} was set aside"


def credit(answered_by: str, *, backend: str = "", model: str = "", mode: str = "") -> str:
    """The "Answered by ..." text of an answer (CLI footer, UI summary, Markdown download).

    >>> credit("qwen2.5-0.5b-instruct", backend="llama.cpp (local)",
    ...        model="qwen2.5-0.5b-instruct", mode="model+extract")
    'qwen2.5-0.5b-instruct via llama.cpp (local), followed by source extracts'
    >>> credit("qwen", backend="llama.cpp (local)", model="qwen", mode="extract+model")
    'source extracts, then what qwen via llama.cpp (local) adds'
    >>> credit("source extracts (model m is too small to write)", backend="Extractive",
    ...        mode="extract")
    'source extracts (model m is too small to write)'
    >>> credit("", backend="llama.cpp (local)", model="qwen")  # an answer kept from before
    'llama.cpp (local) with qwen'
    """
    if not answered_by:
        return f"{backend} with {model}" if model else backend
    if not model or answered_by != model:
        return answered_by
    text = f"{answered_by} via {backend}" if backend and backend != model else answered_by
    if mode == "extract+model":  # a small model: the evidence first, then what it adds
        return f"source extracts, then what {text} adds"
    return text + (", followed by source extracts" if mode == "model+extract" else "")


def served(head: Backend) -> ServedModel | None:
    """The engine's report on ``head``'s model, asked at most every ``REPORT_TTL_S``."""
    where = str(getattr(head, "base_url", None) or getattr(head, "host", None) or "")
    key = (head.name, where, head.model_name)
    now = time.monotonic()
    with _lock:
        hit = _reports.get(key)
    if hit is not None and now - hit[0] < REPORT_TTL_S:
        return hit[1]
    report = head.served_model(timeout=REPORT_TIMEOUT_S)
    if report is None and hit is not None and hit[1] is not None:
        # the engine that reported its model is busy (answering others on a loaded machine):
        # its last report stands; a guess from the plan could name another model
        logger.debug("answering.engine_slow", backend=head.name, where=where)
        return hit[1]
    with _lock:
        _reports[key] = (now, report)
    if report is None:
        logger.debug("answering.engine_silent", backend=head.name, where=where)
    return report


def forget_reports() -> None:
    """Ask the engines afresh at the next decision (a model was switched)."""
    with _lock:
        _reports.clear()


def _identify(
    head: Backend, plan: BackendPlan, report: ServedModel | None, settings: Settings
) -> tuple[str, float | None]:
    """(the model as the user knows it, its parameters) from the report, else the plan."""
    planned = head.model_name or plan.model(head.name)
    if report is None:
        return planned, params_from_name(planned) if planned else None
    if head.name == ENGINE_BACKENDS["llamacpp"]:
        from src.models.backends import model_label

        model = model_label(Path(report.id), settings)  # the GGUF path: its catalog id
    else:
        model = report.id
    params = report.params
    if params is None:
        params = params_from_name(Path(report.id).name) or params_from_name(model)
    return model, params


def _why_no_model(plan: BackendPlan, head: Backend | None) -> str:
    if plan.chosen_by.get(SAFETY_NET) == "this question":
        return "this question asked for them"
    if all(n == SAFETY_NET for n in plan.names):
        return "no language model in the backend chain"
    return "no language model is set up"


def _note(plan: BackendPlan, name: str) -> str:
    """Why this model answers, with what really answers as its subject: the fallback note, or
    that the user chose it with ``models use``."""
    from src.models.backends import CHOSEN_NOTE, fallback_sentence

    if plan.fallback:
        return fallback_sentence(name or EXTRACTS, *plan.fallback)
    # without a fallback the plan's note is only ever the models use one
    return CHOSEN_NOTE.format(answering=name or EXTRACTS) if plan.fallback_note else ""
