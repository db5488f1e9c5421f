"""Generation backends: one class, one abstract method.

``Backend.stream(messages, options=...)`` yields ``Delta`` objects; ``generate`` joins them.
Transport failures are mapped to typed errors (``BackendUnavailable``, ``ModelNotFound``,
``FirstTokenTimeout``, ``StallTimeout``, ``GenerationInterrupted``) inside each backend.
Backends are registered in ``BACKENDS`` (``shared_utils/generation/registry.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """Per-request options. Timeouts are seconds; ``num_ctx`` is fixed per model."""

    temperature: float = 0.2
    max_tokens: int = 320
    num_ctx: int | None = None
    stop: tuple[str, ...] = ()
    # anti-repetition (None: the engine's default): llama.cpp and Ollama take repeat_penalty;
    # DRY is llama.cpp's sampler against repeated sequences; frequency_penalty is OpenAI's
    repeat_penalty: float | None = None
    dry_multiplier: float | None = None
    frequency_penalty: float | None = None
    keep_alive: str | None = None
    connect_timeout_s: float = 3.0
    first_token_timeout_s: float = 30.0
    stall_timeout_s: float = 15.0


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of a streamed answer. The last one has ``done=True`` and may carry stats
    (``prompt_tokens``, ``completion_tokens``, ``prompt_ms``, ``generation_ms``...)."""

    text: str = ""
    done: bool = False
    stats: dict[str, float] = field(default_factory=dict)


class Backend(ABC):
    """A generation backend. Subclasses implement ``stream``."""

    name: str = "abstract"
    label: str = "abstract"  # shown to users, e.g. "Ollama (qwen2.5:1.5b)"
    # False for backends that run in-process and cannot hang (extractive): the fallback
    # chain then applies no deadline to them, so the last safety net always answers.
    deadlines: bool = True
    model_label: str = ""  # the model as the user knows it, when ``model`` is not that name

    @property
    def model_name(self) -> str:
        """The model that answers, as the user knows it ("" when no model writes)."""
        return self.model_label or str(getattr(self, "model", "") or "")

    @abstractmethod
    def stream(
        self, messages: Sequence[Message], *, options: GenerationOptions
    ) -> Iterator[Delta]:
        """Stream the answer. Raises typed errors from ``shared_utils.errors``."""

    def generate(self, messages: Sequence[Message], *, options: GenerationOptions) -> str:
        return "".join(d.text for d in self.stream(messages, options=options))

    def health(self) -> dict[str, object]:
        """{"ok": bool, "detail": str}; cheap, never raises."""
        return {"ok": True, "detail": self.label}
