"""What an ``Answerer`` is made of, from the settings and the machine's profile: its size
(context tokens, passages retrieved, generation deadlines: an explicit setting wins, then the
profile, then the setting's default, then the defaults of a small CPU machine), its planner and
backend factory (``src/models/backends.py``, asked at every question) and the engine's line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared_utils.generation.base import GenerationOptions
from src.answer.queue import queue_for
from src.models.backends import build_backend, plan_backends
from src.models.profile import top_k_for
from src.settings import Settings

if TYPE_CHECKING:
    from src.models.profile import Profile

DEFAULT_CONTEXT_TOKENS = 2048


def answerer_parts(
    settings: Settings, profile: Profile | None, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The keyword arguments of ``Answerer(settings, library=..., **parts)``; ``overrides``
    (a planner, a backend factory, a queue, clocks) win."""
    context, top_k, options = sizing(settings, profile)
    return {
        "planner": lambda: plan_backends(settings, profile),
        "backend_factory": lambda name, plan: build_backend(name, settings, plan),
        "context_tokens": context,
        "top_k": top_k,
        "options": options,
        **overrides,
        "queue": overrides.get("queue") or queue_for(settings, profile),
    }


def sizing(settings: Settings, profile: Profile | None) -> tuple[int, int, GenerationOptions]:
    """(context tokens, top-k, generation options) for an ``Answerer``."""

    def pick(name: str, default: Any = None) -> Any:
        explicit = getattr(settings, name) if name in settings.model_fields_set else None
        chosen = getattr(profile, name) if profile is not None else None
        return explicit or chosen or getattr(settings, name) or default

    context = pick("context_tokens", DEFAULT_CONTEXT_TOKENS)
    options = GenerationOptions(
        temperature=settings.temperature,
        max_tokens=settings.max_answer_tokens,
        num_ctx=context,
        keep_alive=settings.keep_alive,
        # the settings always hold deadlines (their defaults are GenerationOptions')
        connect_timeout_s=pick("connect_timeout_s"),
        first_token_timeout_s=pick("first_token_timeout_s"),
        stall_timeout_s=pick("stall_timeout_s"),
    )
    return context, pick("top_k", top_k_for(context)), options
