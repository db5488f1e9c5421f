"""A chat's model and settings (model, temperature, answer length), kept in the chat.

The choices become the question's ``AskOptions``. Models offered: the default of this
server (from ``src/models/backends.py``, marked when it is the hardware recommendation), the other
models the engine can answer with per question (Ollama's installed models; llama.cpp serves
one model at a time, so its other files are only listed), and "source extracts only".
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import streamlit as st
import structlog

from src.answer.options import AskOptions
from src.models.backends import ENGINE_BACKENDS, SAFETY_NET
from src.protocols import Pipeline
from src.ui import model_tasks, render, state

if TYPE_CHECKING:
    from src.answer.answering import Answering
    from src.models.backends import BackendPlan
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)

EXTRACTS = "extractive"
LENGTHS = {"Short": 0.5, "Normal": 1.0, "Long": 2.0}  # times OLYMPUS_MAX_ANSWER_TOKENS
_installed: dict[str, Any] = {"at": 0.0, "rows": []}
INSTALLED_TTL_S = 30.0


def _installed_rows() -> list[dict[str, Any]]:
    """Installed models, asked at most every 30 s (Ollama may be slow or down)."""
    if time.monotonic() - _installed["at"] > INSTALLED_TTL_S:
        try:
            rows = model_tasks.installed_models(state.settings(), state.profile())
        except Exception as exc:  # noqa: BLE001 - the picker still offers the default
            logger.warning("ui.chat.installed_models_failed", error=str(exc))
            rows = []
        _installed.update(at=time.monotonic(), rows=rows)
    return list(_installed["rows"])


def choices(
    plan: BackendPlan, profile: Profile, answering: Answering | None = None
) -> tuple[dict[str, str], list[str]]:
    """({option key: label}, other installed models the engine cannot switch to per chat).
    The default is named as ``answering`` names it (the extracts when its model is too small
    to write)."""
    head = next((n for n in plan.names if n in ENGINE_BACKENDS.values()), "")
    default = (answering.model if answering is not None else "") or (
        plan.model(head) if head else ""
    )
    shown = answering.name if answering is not None and answering.backend == head else default
    recommended = {profile.model, profile.ollama_model} - {""}
    mark = (
        " ★ recommended for this machine" if default in recommended else " (this server's default)"
    )
    options = {"": (shown or "Default model") + mark} if head else {}
    others: list[str] = []
    for row in _installed_rows():
        name = str(row.get("name") or "")
        if not name or name == default:
            continue
        if head == "ollama" and row.get("where") == "Ollama":
            options[name] = name + (" ★ recommended" if name in recommended else "")
        else:
            others.append(name)
    options[EXTRACTS] = "Source extracts only (no model)"
    return options, others


def options_for(chat: dict[str, Any]) -> AskOptions:
    """The chat's settings as the question's options."""
    s = chat.get("settings") or {}
    model = str(s.get("model") or "")
    base = state.settings().max_answer_tokens
    factor = LENGTHS.get(str(s.get("length") or "Normal"), 1.0)
    return AskOptions(
        model="" if model == EXTRACTS else model,
        backend=SAFETY_NET if model == EXTRACTS else "",
        temperature=s.get("temperature"),
        max_tokens=None if factor == 1.0 else max(32, int(base * factor)),
    )


def label(chat: dict[str, Any], options: dict[str, str]) -> str:
    """Short text for the settings button: the chosen model's name (the extracts, shortly).

    >>> label({}, {"": "source extracts (model m is too small to write) (this server's default)"})
    'source extracts'
    """
    model = str((chat.get("settings") or {}).get("model") or "")
    text = options.get(model) or options.get("") or "Model"
    return text.split(" ★")[0].split(" (")[0]


def plan_of(pipeline: Pipeline) -> Any:
    """The backends the next question tries (None when it cannot be told: no picker then)."""
    try:
        return pipeline.backends()
    except Exception as exc:  # noqa: BLE001 - the chat works without the picker
        logger.warning("ui.chat.plan_failed", error=str(exc))
        return None


def answering_of(pipeline: Pipeline) -> Answering | None:
    """What answers the next question (None when it cannot be told)."""
    try:
        return pipeline.answering()
    except Exception as exc:  # noqa: BLE001 - the chat works without it
        logger.warning("ui.chat.answering_failed", error=str(exc))
        return None


def render_fallback_note(answering: Answering | None) -> None:
    """The same note as on Models and System when a small fallback model serves."""
    if answering is not None and answering.note:
        st.warning(render.escape_markdown(answering.note), icon=":material/info:")


def render_picker(
    chat: dict[str, Any], plan: Any, on_change: Any, answering: Answering | None = None
) -> None:
    """The "Model and settings" popover; a change is kept in the chat and saved with it."""
    if plan is None:
        return
    options, others = choices(plan, state.profile(), answering)
    s = chat.setdefault("settings", {})
    if s.get("model", "") not in options:
        s["model"] = next(iter(options))  # gone (deleted, engine changed): the default
    cid = chat["id"]
    with st.popover(
        label(chat, options),
        icon=":material/tune:",
        help="Model, temperature and answer length for this chat",
    ):
        keys = list(options)
        st.selectbox(
            "Model",
            keys,
            index=keys.index(s.get("model", "")),
            format_func=lambda k: options[k],
            key=f"chat_model_{cid}",
            on_change=_set,
            args=(chat, "model", f"chat_model_{cid}", on_change),
        )
        if others:
            st.caption(
                "Also installed: "
                + ", ".join(render.escape_markdown(o) for o in others)
                + ". llama.cpp serves one model at a time; an administrator switches it "
                "on the Models page."
            )
        default_t = float(state.settings().temperature)
        st.slider(
            "Temperature",
            0.0,
            1.5,
            float(s.get("temperature", default_t)),
            0.1,
            key=f"chat_temp_{cid}",
            help="Low: sticks to the sources. High: freer wording.",
            on_change=_set,
            args=(chat, "temperature", f"chat_temp_{cid}", on_change),
        )
        st.segmented_control(
            "Answer length",
            list(LENGTHS),
            default=s.get("length", "Normal"),
            key=f"chat_len_{cid}",
            on_change=_set,
            args=(chat, "length", f"chat_len_{cid}", on_change),
        )


def _set(chat: dict[str, Any], name: str, key: str, on_change: Any) -> None:
    value = st.session_state.get(key)
    if value is None:
        return
    chat.setdefault("settings", {})[name] = value
    on_change()
