"""A local HTTP server that follows Ollama's documented REST API (docs/api.md), for tests.

No Ollama binary exists here, so the ``ollama`` backend and model import are tested against
this double (and the same tests run against a real Ollama when ``OLLAMA_HOST`` is reachable).

Endpoints: ``GET /api/version``, ``GET /api/tags``, ``POST /api/show``, ``GET /api/ps``,
``POST /api/chat`` and ``POST /api/generate`` (NDJSON stream or ``stream: false``; empty
messages/prompt loads or, with ``keep_alive: 0``, unloads), ``POST /api/pull`` (status lines),
``POST /api/create`` (``files`` -> uploaded blobs), ``HEAD/POST /api/blobs/sha256:<hex>``,
``DELETE /api/delete``. Unknown models get 404 ``{"error": "model \\"x\\" not found, try
pulling it first"}``.

Scriptable behaviour (attributes of ``Script``, changeable at any time through ``.script``):
canned ``answer``, ``first_token_delay_s``, ``token_delay_s``, a stall mid-answer, an
``{"error": ...}`` line mid-stream, a dropped connection mid-stream. Every request is recorded
in ``.requests`` (method, path, parsed JSON body) so tests can assert what was sent.

The stand-in ``ollama`` executable (``ollama_standin.py``) is this server with real parts
swapped in through four hooks of ``OllamaDouble``: ``load``/``unload`` (a runner per model),
``generate`` (the answer's pieces and final stats) and ``register``/``forget`` (the model
store). Keep this module importable with the standard library only (it ships in the
stand-in's tarball): no ``tests.`` imports, only relative ones.

    with OllamaDouble(models=["smollm2:135m"]) as server:
        OllamaBackend(server.url, "smollm2:135m")...
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

VERSION = "0.12.6"
FOREVER_S = 10**9  # keep_alive < 0: stay loaded


@dataclass
class Script:
    """How the double answers chat/generate. Token counts refer to streamed pieces."""

    answer: str = "Paris is the capital of France [1]."
    first_token_delay_s: float = 0.0
    token_delay_s: float = 0.0
    stall_after_tokens: int | None = None  # pause this long after N tokens ...
    stall_s: float = 0.0
    error_after_tokens: int | None = None  # ... or send {"error": ...} after N tokens
    error_message: str = "llama runner process has terminated: exit status 2"
    drop_after_tokens: int | None = None  # ... or drop the connection after N tokens
    load_ms: float = 5.0


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class _Model:
    name: str
    size: int = 98_362_432
    digest: str = "0" * 64
    family: str = "llama"
    parameter_size: str = "135M"
    quantization_level: str = "Q4_1"
    parameters: dict[str, Any] = field(default_factory=dict)
    template: str = ""
    context_length: int = 8192
    modified_at: str = field(default_factory=lambda: _now())
    blob: str = ""  # digest of the GGUF it was created from ("" for pulled/scripted models)

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def tag(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": self.modified_at,
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
        }


class Answer:
    """The pieces of one answer; ``done_reason`` and ``stats`` are final once they are consumed.

    ``stats`` holds prompt_eval_count/_duration and eval_count/_duration (ns); the handler adds
    total_duration and load_duration. ``close()`` stops generating (the client went away).
    """

    def __init__(
        self, pieces: Any, done_reason: str = "stop", stats: dict[str, int] | None = None
    ) -> None:
        self.pieces = pieces
        self.done_reason = done_reason
        self.stats = stats or {}
        self.error = ""  # set when generation failed part-way (sent as {"error": ...})

    def __iter__(self) -> Any:
        return iter(self.pieces)

    def close(self) -> None:
        close = getattr(self.pieces, "close", None)
        if close is not None:
            close()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _size_label(name: str) -> str:
    """The parameter size Ollama reports for a model named like "qwen2.5:0.5b" or
    "smollm2-135m-instruct" ("0.5B", "135M"); "135M" (the double's model) when the name says
    nothing."""
    match = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)([mb])(?![a-z])", name.lower().replace("_", "-"))
    return f"{match.group(1)}{match.group(2).upper()}" if match else "135M"


def _full_name(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class OllamaDouble:
    """Context manager running the double on 127.0.0.1 and a free port."""

    def __init__(
        self,
        models: list[str] | tuple[str, ...] = ("smollm2:135m",),
        *,
        pullable: dict[str, int] | None = None,
        script: Script | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        blob_dir: Path | None = None,
        keep_alive_s: float = 300.0,
    ) -> None:
        self.script = script or Script()
        self.host, self.bind_port, self.keep_alive_s = host, port, keep_alive_s
        self.requests: list[Recorded] = []
        self.models: dict[str, _Model] = {
            _full_name(m): _Model(_full_name(m), parameter_size=_size_label(m)) for m in models
        }
        self.pullable = {_full_name(k): v for k, v in (pullable or {}).items()}
        self.loaded: dict[str, float] = {}  # model -> expires_at (unix time)
        self.aborted = 0  # answers cut short because the client went away (stop pressed)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._tmp = None if blob_dir else tempfile.TemporaryDirectory(prefix="ollama-double-")
        self.blob_dir = Path(blob_dir or self._tmp.name)
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        from .ollama_routes import Handler  # the routes import this module's types

        handler = type("Handler", (Handler,), {"double": self})
        self._server = ThreadingHTTPServer((self.host, self.bind_port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- hooks (the stand-in overrides these) ---------------------------------------------
    def log_request(self, client: str, line: str) -> None:
        """One line per HTTP request; silent in tests."""

    def load(self, model: _Model, options: dict[str, Any]) -> float:
        """Make ``model`` ready to answer; seconds spent loading (0 when it was loaded)."""
        with self.lock:
            was_loaded = self.loaded.get(model.name, 0) >= time.time()
            self.loaded[model.name] = time.time() + FOREVER_S  # in use until keep() below
        return 0.0 if was_loaded else self.script.load_ms / 1000

    def keep(self, name: str, seconds: float) -> None:
        """After a request: stay loaded ``seconds`` (< 0: forever), or unload now when 0."""
        if seconds == 0:
            return self.unload(name)
        with self.lock:
            self.loaded[name] = time.time() + (seconds if seconds > 0 else FOREVER_S)

    def unload(self, name: str) -> None:
        with self.lock:
            self.loaded.pop(name, None)

    def generate(self, model: _Model, body: dict[str, Any], chat: bool) -> Answer:
        """The scripted answer, cut at ``options.num_predict`` pieces."""
        pieces = re.findall(r"\S+\s*|\s+", self.script.answer) or [""]
        limit = (body.get("options") or {}).get("num_predict")
        done_reason = "stop"
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces, done_reason = pieces[:limit], "length"
        stats = {
            "prompt_eval_count": _count_prompt(body, chat),
            "prompt_eval_duration": int(20e6),
            "eval_count": len(pieces),
            "eval_duration": int(10e6 * len(pieces)),
        }
        return Answer(pieces, done_reason, stats)

    def register(self, model: _Model) -> None:
        """Add (or replace) a model, as ``create`` and ``pull`` do."""
        with self.lock:
            self.models[model.name] = model

    def forget(self, name: str) -> _Model | None:
        """Remove a model (``delete``); None when there was none."""
        self.unload(name)
        with self.lock:
            return self.models.pop(name, None)

    # --- helpers for tests ------------------------------------------------------------------
    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def blob_path(self, digest: str) -> Path:
        return self.blob_dir / digest.replace(":", "-")

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()


def _count_prompt(body: dict[str, Any], chat: bool) -> int:
    if chat:
        text = " ".join(m.get("content", "") for m in body.get("messages") or [])
    else:
        text = body.get("prompt") or ""
    return max(1, len(text.split()))


def _keep_alive_seconds(value: Any, default: float = 300.0) -> float:
    """Ollama's keep_alive: number of seconds or a Go duration ("5m", "30s", "-1").

    >>> _keep_alive_seconds("5m"), _keep_alive_seconds(0), _keep_alive_seconds(None, 60.0)
    (300.0, 0.0, 60.0)
    """
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(ms|s|m|h)?", str(value).strip())
    if not m:
        return default
    n = float(m.group(1))
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
