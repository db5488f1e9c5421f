"""Generation backends, registered in one dict.

``BACKENDS`` maps a name to a factory ``(settings, **kw) -> Backend``; ``get_backend`` builds
one and, for an unknown name, raises ``UnknownBackend`` listing the valid names. A factory
whose settings are missing raises ``BackendNotConfigured`` with the reason; ``build_chain``
reports such a backend as skipped (with that reason) instead of dropping it silently.

Names:
- ``ollama``: Ollama's native API (``OLYMPUS_OLLAMA_HOST``, ``OLYMPUS_OLLAMA_MODEL``).
- ``llamacpp``: the local llama.cpp engine (``python -m src engine serve``) through the
  hf_inference backend at ``http://127.0.0.1:<OLYMPUS_LLAMACPP_PORT>/v1``.
- ``hf_inference``: the HF Inference API (``HF_TOKEN`` + ``OLYMPUS_HF_INFERENCE_MODEL``) or any
  OpenAI-compatible server (``OLYMPUS_OPENAI_BASE_URL``).
- ``extractive``: no language model (always available).

>>> sorted(BACKENDS)
['extractive', 'hf_inference', 'llamacpp', 'ollama']
>>> default_order("llamacpp")
['llamacpp', 'hf_inference', 'extractive']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from shared_utils.errors import BackendNotConfigured, UnknownBackend
from shared_utils.generation.base import Backend, GenerationOptions
from shared_utils.generation.chain import FallbackChain

if TYPE_CHECKING:
    from src.settings import Settings

Factory = Callable[..., Backend]

LLAMACPP_LABEL = "llama.cpp (local)"


def _ollama(settings: Settings, *, model: str | None = None, host: str | None = None,
            num_ctx: int | None = None, client: Any = None, **_: Any) -> Backend:
    from shared_utils.generation.ollama import OllamaBackend

    model = model or settings.ollama_model
    if not model:
        raise BackendNotConfigured(
            "No Ollama model is chosen yet.",
            hint="Set OLYMPUS_OLLAMA_MODEL or run `python -m src models use NAME`.",
        )
    return OllamaBackend(
        host or settings.ollama_host,
        model,
        keep_alive=settings.keep_alive,
        num_ctx=num_ctx or settings.context_tokens,
        client=client,
    )


def _llamacpp(settings: Settings, *, base_url: str | None = None, port: int | None = None,
              **_: Any) -> Backend:
    from shared_utils.generation.hf_inference import HFInferenceBackend

    url = base_url or f"http://127.0.0.1:{port or settings.llamacpp_port}/v1"
    return HFInferenceBackend(base_url=url, label=LLAMACPP_LABEL, name="llamacpp")


def _hf_inference(settings: Settings, *, model: str | None = None,
                  base_url: str | None = None, **_: Any) -> Backend:
    from shared_utils.generation.hf_inference import HFInferenceBackend

    base_url = base_url or settings.openai_base_url or None
    token = settings.hf_token or None
    if not base_url and not token:
        raise BackendNotConfigured(
            "Neither HF_TOKEN nor OLYMPUS_OPENAI_BASE_URL is set.",
            hint="Set HF_TOKEN (Hugging Face Inference API) or OLYMPUS_OPENAI_BASE_URL "
            "(an OpenAI-compatible server).",
        )
    return HFInferenceBackend(
        model=model or settings.hf_inference_model or None, token=token, base_url=base_url
    )


def _extractive(settings: Settings, **_: Any) -> Backend:
    from shared_utils.generation.extractive import ExtractiveBackend

    return ExtractiveBackend()


BACKENDS: dict[str, Factory] = {
    "ollama": _ollama,
    "llamacpp": _llamacpp,
    "hf_inference": _hf_inference,
    "extractive": _extractive,
}


def get_backend(name: str, settings: Settings, **kw: Any) -> Backend:
    """Build backend ``name``. Raises UnknownBackend (listing valid names) or
    BackendNotConfigured (saying which setting is missing)."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise UnknownBackend(
            f"Unknown backend {name!r}; valid names: {', '.join(BACKENDS)}."
        )
    return factory(settings, **kw)


def default_order(engine: str) -> list[str]:
    """The chain for an engine: "ollama" (container), "llamacpp" (bare machine), "none"."""
    first = {"ollama": ["ollama"], "llamacpp": ["llamacpp"]}.get(engine, [])
    return [*first, "hf_inference", "extractive"]


def build_chain(
    settings: Settings,
    names: Sequence[str] | None = None,
    *,
    engine: str = "llamacpp",
    clock: Callable[[], float] = time.monotonic,
    backend_kw: dict[str, dict[str, Any]] | None = None,
) -> FallbackChain:
    """The chain for ``names`` (default: ``settings.backend_chain`` or ``default_order``).
    Backends that are not configured are left out and reported in ``ChainResult.skipped``."""
    names = list(names or settings.backend_chain or default_order(engine))
    backends: list[Backend] = []
    skipped: dict[str, str] = {}
    for name in names:
        try:
            backends.append(get_backend(name, settings, **(backend_kw or {}).get(name, {})))
        except BackendNotConfigured as exc:
            skipped[name] = f"not configured: {exc.message} {exc.hint}"
    return FallbackChain(backends, clock=clock, skipped=skipped)


def generation_options(settings: Settings, **overrides: Any) -> GenerationOptions:
    """GenerationOptions from settings (timeouts, max tokens, temperature, context, keep_alive)."""
    values: dict[str, Any] = {
        "temperature": settings.temperature,
        "max_tokens": settings.max_answer_tokens,
        "num_ctx": settings.context_tokens,
        "keep_alive": settings.keep_alive,
        "connect_timeout_s": settings.connect_timeout_s,
        "first_token_timeout_s": settings.first_token_timeout_s,
        "stall_timeout_s": settings.stall_timeout_s,
    }
    values.update(overrides)
    return GenerationOptions(**values)
