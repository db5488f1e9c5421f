"""Generation backends, registered in one dict: its keys are the backend names.

``BACKENDS`` maps a name to a factory ``(settings, **kw) -> Backend``; ``get_backend`` builds
one and, for an unknown name, raises ``UnknownBackend`` listing the valid names. A factory
whose settings are missing raises ``BackendNotConfigured`` with the reason (the answer
reports such a backend as skipped, with that reason). Which backends run, in which order and
with which model is decided in one place: ``src/models/backends.py``.

Names:
- ``ollama``: Ollama's native API (``OLYMPUS_OLLAMA_HOST``; the model comes from the plan).
- ``llamacpp``: the local llama.cpp engine (``python -m src engine serve``) through the
  hf_inference backend at ``http://127.0.0.1:<OLYMPUS_LLAMACPP_PORT>/v1``.
- ``hf_inference``: the HF Inference API (``HF_TOKEN`` + ``OLYMPUS_HF_INFERENCE_MODEL``) or any
  OpenAI-compatible server (``OLYMPUS_OPENAI_BASE_URL``).
- ``extractive``: no language model (always available).

>>> sorted(BACKENDS)
['extractive', 'hf_inference', 'llamacpp', 'ollama']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from shared_utils.errors import BackendNotConfigured, UnknownBackend
from shared_utils.generation.base import Backend


class Settings(Protocol):
    """The settings the factories read (``src.settings.Settings`` has them): shared_utils holds
    no Olympus policy, so it names what it needs instead of importing the application."""

    ollama_host: str
    keep_alive: str
    context_tokens: int | None
    llamacpp_port: int
    openai_base_url: str
    hf_token: str
    hf_inference_model: str


Factory = Callable[..., Backend]

LLAMACPP_LABEL = "llama.cpp (local)"


def _ollama(
    settings: Settings,
    *,
    model: str | None = None,
    host: str | None = None,
    num_ctx: int | None = None,
    client: Any = None,
    **_: Any,
) -> Backend:
    from shared_utils.generation.ollama import OllamaBackend

    if not model:
        raise BackendNotConfigured(
            "No Ollama model is chosen yet.",
            hint="Run `python -m src models use NAME` (or set OLYMPUS_OLLAMA_MODEL), or wait "
            "for provisioning to finish.",
        )
    return OllamaBackend(
        host or settings.ollama_host,
        model,
        keep_alive=settings.keep_alive,
        num_ctx=num_ctx or settings.context_tokens,
        client=client,
    )


def _llamacpp(
    settings: Settings,
    *,
    base_url: str | None = None,
    port: int | None = None,
    model: str = "",
    **_: Any,
) -> Backend:
    from shared_utils.generation.hf_inference import HFInferenceBackend

    url = base_url or f"http://127.0.0.1:{port or settings.llamacpp_port}/v1"
    backend = HFInferenceBackend(base_url=url, label=LLAMACPP_LABEL, name="llamacpp")
    backend.model_label = model  # the engine serves one file: the name is for people only
    return backend


def _hf_inference(
    settings: Settings, *, model: str | None = None, base_url: str | None = None, **_: Any
) -> Backend:
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
        raise UnknownBackend(f"Unknown backend {name!r}; valid names: {', '.join(BACKENDS)}.")
    return factory(settings, **kw)
