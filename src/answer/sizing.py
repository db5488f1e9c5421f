"""How much one answer may use: the context size, the passages retrieved (top-k) and the
generation deadlines. An explicit setting wins, then the machine's profile, then the setting's
default, then the defaults of a small CPU machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared_utils.generation.base import GenerationOptions
from src.models.profile import top_k_for
from src.settings import Settings

if TYPE_CHECKING:
    from src.models.profile import Profile

DEFAULT_CONTEXT_TOKENS = 2048


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
