"""Ollama backend: the native ``/api/chat`` stream through the official ``ollama`` client.

- ``num_ctx`` is fixed per backend instance and sent with every request (a different value
  makes Ollama reload the model); ``keep_alive`` keeps the model loaded between questions.
- The final chunk's statistics become ``Delta.stats``: ``prompt_tokens`` (prompt_eval_count),
  ``completion_tokens`` (eval_count), ``prompt_ms``, ``generation_ms``, ``load_ms``, ``total_ms``.
- Transport failures are mapped to typed errors at ONE point, ``_map_error``.
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
from shared_utils.generation.base import Backend, Delta, GenerationOptions, Message
from shared_utils.generation.chain import register_closer, register_response

logger = structlog.get_logger(__name__)

_NS_PER_MS = 1_000_000


class OllamaBackend(Backend):
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

    # --- hooks used by FallbackChain ------------------------------------------------------
    def connect(self, *, timeout: float) -> None:
        """Cheap reachability check (``GET /api/version``); raises typed errors."""
        import httpx

        try:
            r = httpx.get(f"{self.host}/api/version", timeout=timeout)
            r.raise_for_status()
        except Exception as exc:
            raise self._map_error(exc, started=False) from exc

    def health(self) -> dict[str, object]:
        import httpx

        try:
            r = httpx.get(f"{self.host}/api/version", timeout=2.0)
            r.raise_for_status()
            return {"ok": True, "detail": f"{self.label}, Ollama {r.json().get('version', '?')}"}
        except Exception as exc:  # noqa: BLE001 - health never raises: it reports the reason
            return {"ok": False, "detail": self._map_error(exc, started=False).message}

    # --- streaming ------------------------------------------------------------------------
    def stream(
        self, messages: Sequence[Message], *, options: GenerationOptions
    ) -> Iterator[Delta]:
        client = self._client or self._make_client(options)
        owned = self._client is None
        if owned:
            register_closer(client.close)  # the chain closes the connection on stop
        started = False
        try:
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
                    started = True
                    yield Delta(text)
            raise GenerationInterrupted("Ollama closed the stream before the final chunk.")
        except OlympusError:
            raise
        except Exception as exc:
            raise self._map_error(exc, started=started) from exc
        finally:
            if owned:
                client.close()

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
    return {k: float(v) / div for k, (v, div) in raw.items() if v is not None}
