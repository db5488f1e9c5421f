"""hf_inference backend: ``huggingface_hub.InferenceClient.chat_completion(stream=True)``.

Two modes:
- ``token`` + ``model``: the Hugging Face Inference API (serverless providers).
- ``base_url``: any OpenAI-compatible server: the local llama.cpp engine, TGI, vLLM, Ollama's
  ``/v1``. The registry builds the "llamacpp" backend this way.

Usage (and llama.cpp's ``timings``) from the last chunk go into ``Delta.stats``. Transport
failures become typed errors in ``_map_error`` (one point).

Offline mode: ``huggingface_hub`` blocks *every* request of its shared HTTP session when
``HF_HUB_OFFLINE=1``, including requests to a local server. Olympus runs offline by design, so
requests to a configured ``base_url`` are exempted (``_allow_offline``); requests to the Hub
stay blocked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import structlog

from shared_utils.errors import (
    BackendUnavailable,
    GenerationInterrupted,
    ModelNotFound,
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

_LOCAL_BASES: set[str] = set()
_HOOK_LOCK = threading.Lock()


class HFInferenceBackend(StreamingBackend):
    name = "hf_inference"

    def __init__(
        self,
        *,
        model: str | None = None,
        token: str | None = None,
        base_url: str | None = None,
        label: str | None = None,
        timeout: float | None = None,
        name: str | None = None,
    ) -> None:
        if not base_url and not model:
            raise BackendUnavailable(
                "The hf_inference backend needs a model (with HF_TOKEN) or a base URL.",
                hint="Set OLYMPUS_HF_INFERENCE_MODEL and HF_TOKEN, or OLYMPUS_OPENAI_BASE_URL.",
            )
        self.model = model
        self.token = token or None
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        if name:
            self.name = name
        where = self.base_url or "Hugging Face Inference API"
        self.label = label or (f"{model} via {where}" if model else where)
        if self.base_url:
            _LOCAL_BASES.add(self.base_url)

    # --- the hooks StreamingBackend calls, in its order --------------------------------------
    def _ping(self, timeout: float) -> str:
        """``GET {base_url}/models`` (nothing to reach for the HF API: the token must be set)."""
        if not self.base_url:
            if not self.token:
                raise BackendUnavailable("HF_TOKEN is not set")
            return self.label
        import httpx

        r = httpx.get(f"{self.base_url}/models", timeout=timeout, headers=self._headers())
        if r.status_code in (401, 403, 404):
            raise httpx.HTTPStatusError("status", request=r.request, response=r)
        r.raise_for_status()
        return self.label

    def served_model(self, *, timeout: float = 1.0) -> ServedModel | None:
        """``GET {base_url}/models``: the served model (the one named ``model`` when there
        are several) and, from llama.cpp, its parameter count (``meta.n_params``)."""
        if not self.base_url:
            return None  # the HF Inference API serves every model: nothing to ask
        import httpx

        try:
            r = httpx.get(f"{self.base_url}/models", timeout=timeout, headers=self._headers())
            r.raise_for_status()
            data = [m for m in r.json().get("data") or [] if isinstance(m, dict) and m.get("id")]
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            logger.debug("served_model.unknown", url=self.base_url, error=type(exc).__name__)
            return None
        item = next((m for m in data if m["id"] == self.model), data[0] if data else None)
        if item is None:
            return None
        n_params = (item.get("meta") or {}).get("n_params")
        return ServedModel(str(item["id"]), float(n_params) if n_params else None)

    def _open(self, options: GenerationOptions) -> Any:
        from huggingface_hub import InferenceClient

        _install_hooks()
        read = self.timeout or (max(options.first_token_timeout_s, options.stall_timeout_s) + 5)
        client = InferenceClient(
            model=None if self.base_url else self.model,
            base_url=self.base_url,
            token=self.token,
            timeout=read,
        )
        register_closer(client.close)  # the chain closes the HTTP response when the user stops
        return client

    def _deltas(
        self, client: Any, messages: Sequence[Message], options: GenerationOptions
    ) -> Iterator[Delta]:
        chunks = client.chat_completion(
            [{"role": m.role, "content": m.content} for m in messages],
            model=self.model if self.base_url else None,
            stream=True,
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            seed=options.seed,
            stop=list(options.stop) or None,
            stream_options={"include_usage": True},
            frequency_penalty=options.frequency_penalty,
            extra_body=_engine_fields(options) if self.base_url else None,
        )
        finished = False
        stats: dict[str, float] = {}
        for chunk in chunks:
            for choice in chunk.choices or []:
                text = choice.delta.content if choice.delta else None
                if text:
                    yield Delta(text)
                finished = finished or bool(choice.finish_reason)
                if choice.finish_reason == "length":
                    stats["length_cut"] = 1.0
            stats.update(_stats(chunk))
        if finished:  # else the engine stopped and the stream just ended: the base class says so
            yield Delta("", done=True, stats=stats)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    # --- the one place transport failures become typed errors -------------------------------
    def _map_error(self, exc: BaseException, *, started: bool) -> OlympusError:
        status = _status(exc)
        where = self.base_url or "the Hugging Face Inference API"
        if status in (401, 403):
            return BackendUnavailable(
                f"{where} refused the request (HTTP {status}).",
                hint="Set a valid HF_TOKEN (with access to the model) or use another backend.",
            )
        if status == 404:
            return ModelNotFound(
                f"{where} has no model {self.model!r}." if self.model else f"{where}: not found.",
                hint="Check OLYMPUS_HF_INFERENCE_MODEL / the engine's model, or use another backend.",
            )
        name = type(exc).__name__
        if "Connect" in name or isinstance(exc, ConnectionRefusedError):
            return BackendUnavailable(f"{self.label} is not reachable at {where}.")
        detail = f"{name}: {exc}"
        if status:
            detail = f"HTTP {status}: {exc}"
        if started:
            return GenerationInterrupted(f"{self.label} stopped mid-answer: {detail}")
        return BackendUnavailable(f"{self.label} failed: {detail}")


def _engine_fields(options: GenerationOptions) -> dict[str, Any]:
    """llama.cpp's own request fields: its prompt cache and its anti-repetition samplers."""
    body: dict[str, Any] = {"cache_prompt": True}
    if options.repeat_penalty is not None:
        body["repeat_penalty"] = options.repeat_penalty
    if options.dry_multiplier is not None:
        body.update(dry_multiplier=options.dry_multiplier, dry_base=1.75, dry_allowed_length=2)
    return body


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) if response is not None else None


def _stats(chunk: Any) -> dict[str, float]:
    """Usage (OpenAI) and timings (llama.cpp) from a stream chunk, when present."""
    out: dict[str, float] = {}
    usage = getattr(chunk, "usage", None)
    if usage:
        out["prompt_tokens"] = float(usage.prompt_tokens)
        out["completion_tokens"] = float(usage.completion_tokens)
    timings = chunk.get("timings") if isinstance(chunk, dict) else getattr(chunk, "timings", None)
    if isinstance(timings, dict):
        for src, dst in (
            ("prompt_ms", "prompt_ms"),
            ("predicted_ms", "generation_ms"),
            ("cache_n", "cached_prompt_tokens"),
            ("prompt_n", "prompt_eval_tokens"),
        ):
            if timings.get(src) is not None:
                out[dst] = float(timings[src])
    return out


def _install_hooks() -> None:
    """On huggingface_hub's shared session: exempt configured base URLs from the offline
    block (see module doc), and let the chain shut a response's socket on stop."""
    from huggingface_hub.utils import _http

    session = _http.get_session()
    with _HOOK_LOCK:
        hooks = session.event_hooks
        if register_response not in hooks.get("response", []):
            hooks["response"] = [*hooks.get("response", []), register_response]
            session.event_hooks = hooks
        original = _http.hf_request_event_hook
        if original not in hooks.get("request", []):
            return  # already wrapped, or a custom client factory is in charge

        def hook(request: Any) -> Any:
            url = str(request.url)
            if any(url.startswith(base + "/") for base in _LOCAL_BASES):
                return None
            return original(request)

        hooks["request"] = [hook if h is original else h for h in hooks["request"]]
        session.event_hooks = hooks
