"""Generation backends: one class, one abstract method.

``Backend.stream(messages, options=...)`` yields ``Delta`` objects; ``generate`` joins them.
``StreamingBackend`` owns the sequence every HTTP backend follows (open a client, stream its
chunks, map a transport failure to a typed error at one point, close), so a new HTTP backend
only fills in small hooks. Deadlines (connect, first token, stall) belong to the fallback
chain, which raises ``BackendTimeout`` / ``FirstTokenTimeout`` / ``StallTimeout``. Backends are
registered in ``BACKENDS`` (``shared_utils/generation/registry.py``).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared_utils.errors import BackendUnavailable, GenerationInterrupted, OlympusError

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
    top_p: float | None = None  # None: the engine's default
    seed: int | None = None  # a fixed sampling seed (llama.cpp, Ollama); None: random
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
class ServedModel:
    """What an engine reports about the model it answers with (``Backend.served_model``)."""

    id: str  # the engine's name for it: llama.cpp the GGUF path (or alias), Ollama the tag
    params: float | None = None  # parameters, when the engine says


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of a streamed answer. The last one has ``done=True`` and may carry stats
    (``prompt_tokens``, ``completion_tokens``, ``prompt_ms``, ``generation_ms``...;
    ``length_cut`` 1.0 when the engine stopped at ``max_tokens``)."""

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
    def stream(self, messages: Sequence[Message], *, options: GenerationOptions) -> Iterator[Delta]:
        """Stream the answer. Raises typed errors from ``shared_utils.errors``."""

    def generate(self, messages: Sequence[Message], *, options: GenerationOptions) -> str:
        return "".join(d.text for d in self.stream(messages, options=options))

    def served_model(self, *, timeout: float = 1.0) -> ServedModel | None:
        """The model the engine behind this backend reports (None: no engine to ask, or it
        did not answer within ``timeout``). Cheap, never raises."""
        return None

    def health(self) -> dict[str, object]:
        """{"ok": bool, "detail": str}; cheap, never raises."""
        return {"ok": True, "detail": self.label}


# when each server last answered a connect check (backends are made per question)
_REACHED: dict[str, float] = {}


class StreamingBackend(Backend):
    """A backend that streams from a server. ``stream`` fixes the order of steps; subclasses
    override the hooks: ``_open`` (a client for this request), ``_deltas`` (the server's
    chunks as Deltas, the last one ``done``), ``_close``, ``_ping`` (a cheap reachability
    check) and ``_map_error`` (the one place a transport failure becomes a typed error)."""

    def stream(self, messages: Sequence[Message], *, options: GenerationOptions) -> Iterator[Delta]:
        client = self._open(options)
        started = False
        try:
            for delta in self._deltas(client, messages, options):
                started = started or bool(delta.text)
                yield delta
                if delta.done:
                    return
            raise GenerationInterrupted(f"{self.label} ended the stream before finishing.")
        except GenerationInterrupted as exc:
            if started:
                raise
            raise BackendUnavailable(exc.message) from exc  # nothing said: the next one answers
        except OlympusError:
            raise
        except Exception as exc:
            raise self._map_error(exc, started=started) from exc
        finally:
            self._close(client)

    def connect(self, *, timeout: float, recent_s: float = 0.0) -> str:
        """The chain's connect hook: raises the typed error when the server is not there;
        returns what the server said about itself (for health). A server that answered this
        check less than ``recent_s`` ago is taken as there without asking again: an engine
        busy writing other answers on a loaded machine can take seconds to answer even this
        cheap call, and a question must not fall back because others keep it busy (its
        first-token deadline still holds)."""
        key = f"{type(self).__name__} {getattr(self, 'base_url', '') or ''}"
        if recent_s > 0 and time.monotonic() - _REACHED.get(key, -math.inf) < recent_s:
            return ""
        try:
            detail = self._ping(timeout)
        except OlympusError:
            _REACHED.pop(key, None)
            raise
        except Exception as exc:
            _REACHED.pop(key, None)
            raise self._map_error(exc, started=False) from exc
        _REACHED[key] = time.monotonic()
        return detail

    def health(self) -> dict[str, object]:
        try:
            detail = self.connect(timeout=2.0)
        except OlympusError as exc:  # health never raises: it reports the reason
            return {"ok": False, "detail": exc.message}
        return {"ok": True, "detail": detail or self.label}

    @abstractmethod
    def _open(self, options: GenerationOptions) -> Any:
        """A client for one request (registered with the chain so a stop closes it)."""

    @abstractmethod
    def _deltas(
        self, client: Any, messages: Sequence[Message], options: GenerationOptions
    ) -> Iterator[Delta]:
        """The answer as Deltas; the last has ``done=True`` (ending early is an error)."""

    def _close(self, client: Any) -> None:
        client.close()

    @abstractmethod
    def _ping(self, timeout: float) -> str:
        """Raise when the server does not answer a cheap request within ``timeout``; else a
        short description of it for health ("" for the label)."""

    @abstractmethod
    def _map_error(self, exc: BaseException, *, started: bool) -> OlympusError:
        """The typed error for a transport failure (``started``: text was already sent)."""
