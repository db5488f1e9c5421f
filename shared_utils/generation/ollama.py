"""Ollama backend: the native ``/api/chat`` stream through the official ``ollama`` client.

- ``num_ctx`` is fixed per backend instance and sent with every request (a different value
  makes Ollama reload the model); ``keep_alive`` keeps the model loaded between questions.
- The final chunk's statistics become ``Delta.stats``: ``prompt_tokens`` (prompt_eval_count),
  ``completion_tokens`` (eval_count), ``prompt_ms``, ``generation_ms``, ``load_ms``, ``total_ms``.
- ``StreamingBackend`` owns the order of steps; transport failures become typed errors at ONE
  point, ``_map_error``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import structlog

from shared_utils.errors import (
    BackendUnavailable,
    GenerationInterrupted,
    ModelNotFound,
    OllamaNotRunning,
    OlympusError,
)
from shared_utils.generation.base import (
    Delta,
    GenerationOptions,
    Message,
    ServedModel,
    StreamingBackend,
)
from shared_utils.generation.chain import register_closer, register_response

logger = structlog.get_logger(__name__)

_NS_PER_MS = 1_000_000


class OllamaBackend(StreamingBackend):
    name = "ollama"

    def __init__(
        self,
        host: str,
        model: str,
        *,
        keep_alive: str | None = None,
        num_ctx: int | None = None,
        client: Any = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.model = model
        self.keep_alive = keep_alive
        self.num_ctx = num_ctx
        self._client = client  # injected ollama.Client (tests); else one per request
        self.label = f"Ollama ({model})"

    # --- the hooks StreamingBackend calls, in its order --------------------------------------
    def _ping(self, timeout: float) -> str:
        """``GET /api/version``."""
        import httpx

        r = httpx.get(f"{self.host}/api/version", timeout=timeout)
        r.raise_for_status()
        return f"{self.label}, Ollama {r.json().get('version', '?')}"

    def served_model(self, *, timeout: float = 1.0) -> ServedModel | None:
        """``POST /api/show``: the model Ollama loads for this backend, with its parameter
        count (``general.parameter_count``, else ``details.parameter_size`` like "494.03M")."""
        import httpx

        try:
            r = httpx.post(f"{self.host}/api/show", json={"model": self.model}, timeout=timeout)
            r.raise_for_status()
            show = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.debug(
                "served_model.unknown", host=self.host, model=self.model, error=type(exc).__name__
            )
            return None
        count = (show.get("model_info") or {}).get("general.parameter_count")
        size = str((show.get("details") or {}).get("parameter_size") or "")
        return ServedModel(self.model, float(count) if count else _parameter_size(size))

    def _open(self, options: GenerationOptions) -> Any:
        if self._client is not None:
            return self._client
        client = self._make_client(options)
        register_closer(client.close)  # the chain closes the connection on stop
        return client

    def _close(self, client: Any) -> None:
        if client is not self._client:  # an injected client belongs to the caller
            client.close()

    def _deltas(
        self, client: Any, messages: Sequence[Message], options: GenerationOptions
    ) -> Iterator[Delta]:
        parts = client.chat(
            model=self.model,
            messages=[{"role": m.role, "content": m.content} for m in messages],
            stream=True,
            options=self._options(options),
            keep_alive=self.keep_alive if self.keep_alive is not None else options.keep_alive,
        )
        for part in parts:
            text = (part.message.content or "") if part.message else ""
            if part.done:
                if text:
                    yield Delta(text)
                yield Delta("", done=True, stats=_stats(part))
                return
            if text:
                yield Delta(text)

    def _make_client(self, options: GenerationOptions):
        import httpx
        import ollama

        read = max(options.first_token_timeout_s, options.stall_timeout_s) + 5
        timeout = httpx.Timeout(read, connect=options.connect_timeout_s)
        return ollama.Client(
            host=self.host, timeout=timeout, event_hooks={"response": [register_response]}
        )

    def _options(self, options: GenerationOptions) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "temperature": options.temperature,
            "num_predict": options.max_tokens,
        }
        num_ctx = self.num_ctx or options.num_ctx
        if num_ctx:
            opts["num_ctx"] = num_ctx
        if options.stop:
            opts["stop"] = list(options.stop)
        if options.repeat_penalty is not None:
            opts["repeat_penalty"] = options.repeat_penalty
        if options.frequency_penalty is not None:
            opts["frequency_penalty"] = options.frequency_penalty
        if options.top_p is not None:
            opts["top_p"] = options.top_p
        if options.seed is not None:
            opts["seed"] = options.seed
        return opts

    # --- the one place transport failures become typed errors -------------------------------
    def _map_error(self, exc: BaseException, *, started: bool) -> OlympusError:
        import httpx
        import ollama

        if isinstance(exc, OlympusError):
            return exc
        if isinstance(exc, (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout)):
            return OllamaNotRunning(f"Ollama is not reachable at {self.host}.")
        if isinstance(exc, httpx.HTTPStatusError):
            status, text = exc.response.status_code, exc.response.text
        elif isinstance(exc, ollama.ResponseError):
            status, text = exc.status_code, exc.error
        else:
            status, text = None, ""
        if status == 404 or "not found" in (text or "").lower():
            return ModelNotFound(
                f"Ollama has no model {self.model!r}.",
                hint=f"Pull it first: `python -m src models pull REPO[:QUANT]` "
                f"(or `ollama pull {self.model}`).",
            )
        if isinstance(exc, ollama.ResponseError) and status == -1:  # {"error": ...} mid-stream
            if started:
                return GenerationInterrupted(f"Ollama stopped mid-answer: {text}")
            return BackendUnavailable(f"Ollama failed before answering: {text}")
        if isinstance(exc, (httpx.TimeoutException,)):
            return BackendUnavailable(f"Ollama at {self.host} timed out ({type(exc).__name__}).")
        detail = text or f"{type(exc).__name__}: {exc}"
        if started:
            return GenerationInterrupted(f"Ollama stopped mid-answer: {detail}")
        return BackendUnavailable(f"Ollama failed: {detail}")


def _parameter_size(text: str) -> float | None:
    """Ollama's ``parameter_size`` ("494.03M", "1.5B", "7B") in parameters.

    >>> _parameter_size("494.03M"), _parameter_size("1.5B"), _parameter_size("")
    (494030000.0, 1500000000.0, None)
    """
    text = text.strip().upper()
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(text[-1:], 0.0)
    try:
        return round(float(text[:-1]) * scale, 0) if scale else None
    except ValueError:
        return None


def _stats(part: Any) -> dict[str, float]:
    """Final-chunk counters (nanoseconds in the API) as ms and token counts."""
    raw = {
        "prompt_tokens": (part.prompt_eval_count, 1),
        "completion_tokens": (part.eval_count, 1),
        "prompt_ms": (part.prompt_eval_duration, _NS_PER_MS),
        "generation_ms": (part.eval_duration, _NS_PER_MS),
        "load_ms": (part.load_duration, _NS_PER_MS),
        "total_ms": (part.total_duration, _NS_PER_MS),
    }
    out = {k: float(v) / div for k, (v, div) in raw.items() if v is not None}
    if getattr(part, "done_reason", None) == "length":
        out["length_cut"] = 1.0
    return out
