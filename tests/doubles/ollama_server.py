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

    with OllamaDouble(models=["smollm2:135m"]) as server:
        OllamaBackend(server.url, "smollm2:135m")...
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

VERSION = "0.12.6"
_DIGEST_RE = re.compile(r"^/api/blobs/(sha256:[0-9a-f]{64})$")

# GGUF general.file_type -> Ollama's quantization_level label.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}


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


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


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
    ) -> None:
        self.script = script or Script()
        self.requests: list[Recorded] = []
        self.models: dict[str, _Model] = {_full_name(m): _Model(_full_name(m)) for m in models}
        self.pullable = {_full_name(k): v for k, v in (pullable or {}).items()}
        self.loaded: dict[str, float] = {}  # model -> expires_at (unix time)
        self.aborted = 0  # answers cut short because the client went away (stop pressed)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._tmp = tempfile.TemporaryDirectory(prefix="ollama-double-")
        self.blob_dir = Path(self._tmp.name)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"double": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
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
        return f"http://127.0.0.1:{self.port}"

    # --- helpers for tests ------------------------------------------------------------------
    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def blob_path(self, digest: str) -> Path:
        return self.blob_dir / digest.replace(":", "-")

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()


class _Handler(BaseHTTPRequestHandler):
    double: OllamaDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    # --- plumbing ---------------------------------------------------------------------------
    def _body_bytes(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _record(self, body: Any) -> None:
        with self.double.lock:
            self.double.requests.append(Recorded(self.command, self.path, body))

    def _json_body(self) -> Any:
        raw = self._body_bytes()
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self._record(body)
        return body

    def _send_json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, obj: Any) -> None:
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _not_found(self, name: str) -> None:
        self._send_json(404, {"error": f'model "{name}" not found, try pulling it first'})

    def _model(self, name: str | None) -> _Model | None:
        return self.double.models.get(_full_name(name or ""))

    # --- routes -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._record(None)
        if self.path == "/api/version":
            self._send_json(200, {"version": VERSION})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [m.tag() for m in self.double.models.values()]})
        elif self.path == "/api/ps":
            self._send_json(200, {"models": self._running()})
        elif self.path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self._send_json(404, {"error": "404 page not found"})

    def do_HEAD(self) -> None:
        self._record(None)
        m = _DIGEST_RE.match(self.path)
        if m and self.double.has_blob(m.group(1)):
            self._send_empty(200)
        else:
            self._send_empty(404)

    def do_POST(self) -> None:
        m = _DIGEST_RE.match(self.path)
        if m:
            return self._create_blob(m.group(1))
        body = self._json_body()
        routes = {
            "/api/chat": self._chat,
            "/api/generate": self._generate,
            "/api/show": self._show,
            "/api/pull": self._pull,
            "/api/create": self._create,
        }
        route = routes.get(self.path)
        if route is None:
            return self._send_json(404, {"error": "404 page not found"})
        route(body)

    def do_DELETE(self) -> None:
        body = self._json_body()
        if self.path != "/api/delete":
            return self._send_json(404, {"error": "404 page not found"})
        name = _full_name(body.get("model") or body.get("name") or "")
        with self.double.lock:
            model = self.double.models.pop(name, None)
            self.double.loaded.pop(name, None)
        if model is None:
            return self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
        self._send_empty(200)

    # --- blobs ------------------------------------------------------------------------------
    def _create_blob(self, digest: str) -> None:
        data = self._body_bytes()
        self._record({"bytes": len(data)})
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            return self._send_json(400, {"error": "digest mismatch"})
        path = self.double.blob_path(digest)
        path.write_bytes(data)
        self._send_empty(201)

    # --- models -----------------------------------------------------------------------------
    def _running(self) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        for name, expires in list(self.double.loaded.items()):
            model = self.double.models.get(name)
            if model is None or expires < now:
                continue
            exp = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
            out.append({**model.tag(), "expires_at": exp, "size_vram": 0,
                        "context_length": model.context_length})
        return out

    def _touch(self, model: _Model, keep_alive: Any) -> str | None:
        """Load/unload per keep_alive; returns "unload" when keep_alive is 0."""
        seconds = _keep_alive_seconds(keep_alive)
        with self.double.lock:
            if seconds == 0:
                self.double.loaded.pop(model.name, None)
                return "unload"
            self.double.loaded[model.name] = time.time() + (seconds if seconds > 0 else 10**9)
        return None

    def _show(self, body: dict[str, Any]) -> None:
        model = self._model(body.get("model") or body.get("name"))
        if model is None:
            return self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
        params = "\n".join(f"{k:<30} {json.dumps(v) if isinstance(v, str) else v}"
                           for k, v in model.parameters.items())
        self._send_json(200, {
            "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {model.name}\n",
            "parameters": params,
            "template": model.template or "{{ .Prompt }}",
            "details": model.details(),
            "model_info": {
                "general.architecture": model.family,
                f"{model.family}.context_length": model.context_length,
            },
            "capabilities": ["completion"],
            "modified_at": model.modified_at,
        })

    def _pull(self, body: dict[str, Any]) -> None:
        name = _full_name(body.get("model") or body.get("name") or "")
        stream = body.get("stream", True)
        size = self.double.pullable.get(name)
        if name in self.double.models and size is None:
            size = self.double.models[name].size
        if size is None:
            err = {"error": "pull model manifest: file does not exist"}
            return self._stream_or_error(stream, [], err)
        digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        for completed in (0, size // 2, size):
            lines.append({"status": f"pulling {digest[7:19]}", "digest": digest,
                          "total": size, "completed": completed})
        lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                  {"status": "success"}]
        with self.double.lock:
            self.double.models[name] = _Model(name, size=size, digest=digest[7:])
        self._stream_or_error(stream, lines, None)

    def _create(self, body: dict[str, Any]) -> None:
        name = _full_name(body.get("model") or "")
        stream = body.get("stream", True)
        files: dict[str, str] = body.get("files") or {}
        if not body.get("model"):
            return self._send_json(400, {"error": "model is required"})
        if not files and not body.get("from"):
            return self._send_json(400, {"error": "neither 'from' or 'files' was specified"})
        lines: list[dict[str, Any]] = [{"status": "parsing GGUF"}] if files else []
        base: _Model | None = None
        if body.get("from"):
            base = self._model(body["from"])
            if base is None:
                err = {"error": f"model '{body['from']}' not found"}
                return self._stream_or_error(stream, [], err)
        size, meta = 0, {}
        for fname, digest in files.items():
            if not self.double.has_blob(digest):
                err = {"error": f"file {fname} ({digest}) not found: upload the blob first"}
                return self._stream_or_error(stream, lines, err)
            path = self.double.blob_path(digest)
            size += path.stat().st_size
            meta = meta or _gguf_meta(path)
            lines.append({"status": f"using existing layer {digest}"})
        params = dict(body.get("parameters") or {})
        model = _Model(
            name,
            size=size or (base.size if base else 0),
            digest=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
            family=meta.get("family") or (base.family if base else "llama"),
            parameter_size=meta.get("parameter_size") or (base.parameter_size if base else ""),
            quantization_level=meta.get("quantization_level")
            or (base.quantization_level if base else ""),
            parameters=params,
            template=body.get("template") or meta.get("template", ""),
            context_length=int(meta.get("context_length") or 2048),
        )
        if params:
            lines.append({"status": "creating new layer sha256:" + "1" * 64})
        lines += [{"status": "writing manifest"}, {"status": "success"}]
        with self.double.lock:
            self.double.models[name] = model
        self._stream_or_error(stream, lines, None)

    def _stream_or_error(self, stream: bool, lines: list[dict], error: dict | None) -> None:
        if not stream:
            if error:
                return self._send_json(500, error)
            return self._send_json(200, lines[-1] if lines else {"status": "success"})
        self._start_stream()
        for line in lines:
            self._chunk(line)
        if error:
            self._chunk(error)
        self._end_stream()

    # --- generation ---------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> None:
        self._answer(body, chat=True)

    def _generate(self, body: dict[str, Any]) -> None:
        self._answer(body, chat=False)

    def _answer(self, body: dict[str, Any], *, chat: bool) -> None:
        model = self._model(body.get("model"))
        if model is None:
            return self._not_found(body.get("model") or "")
        empty = not body.get("messages") if chat else not body.get("prompt")
        action = self._touch(model, body.get("keep_alive"))
        script = self.double.script
        base = {"model": body.get("model"), "created_at": _now()}

        def piece(text: str, done: bool, **extra: Any) -> dict[str, Any]:
            if chat:
                return {**base, "message": {"role": "assistant", "content": text},
                        "done": done, **extra}
            return {**base, "response": text, "done": done, **extra}

        if empty:  # load (warm-up) or unload (keep_alive 0)
            final = piece("", True, done_reason=action or "load")
            return self._send_json(200, final)
        prompt_tokens = _count_prompt(body, chat)
        pieces = re.findall(r"\S+\s*|\s+", script.answer) or [""]
        limit = (body.get("options") or {}).get("num_predict")
        done_reason = "stop"
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces, done_reason = pieces[:limit], "length"
        stats = {
            "total_duration": int((script.load_ms + 20 + 10 * len(pieces)) * 1e6),
            "load_duration": int(script.load_ms * 1e6),
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": int(20e6),
            "eval_count": len(pieces),
            "eval_duration": int(10e6 * len(pieces)),
        }
        if body.get("stream") is False:
            time.sleep(script.first_token_delay_s)
            return self._send_json(200, piece("".join(pieces), True, done_reason=done_reason,
                                              **stats))
        self._start_stream()
        if self.double.stopping.wait(script.first_token_delay_s):
            return
        try:
            for i, text in enumerate(pieces):
                if script.error_after_tokens is not None and i == script.error_after_tokens:
                    self._chunk({"error": script.error_message})
                    return self._end_stream()
                if script.drop_after_tokens is not None and i == script.drop_after_tokens:
                    self.close_connection = True
                    self.connection.close()
                    return
                stall = script.stall_after_tokens is not None and i == script.stall_after_tokens
                if stall and self.double.stopping.wait(script.stall_s):
                    return
                if i and script.token_delay_s and self.double.stopping.wait(script.token_delay_s):
                    return
                self._chunk(piece(text, False))
            self._chunk(piece("", True, done_reason=done_reason, **stats))
            self._end_stream()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client went away (stop pressed)
            with self.double.lock:
                self.double.aborted += 1


def _count_prompt(body: dict[str, Any], chat: bool) -> int:
    if chat:
        text = " ".join(m.get("content", "") for m in body.get("messages") or [])
    else:
        text = body.get("prompt") or ""
    return max(1, len(text.split()))


def _keep_alive_seconds(value: Any) -> float:
    """Ollama's keep_alive: number of seconds or a Go duration ("5m", "30s", "-1")."""
    if value is None:
        return 300.0
    if isinstance(value, (int, float)):
        return float(value)
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(ms|s|m|h)?", str(value).strip())
    if not m:
        return 300.0
    n = float(m.group(1))
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def _gguf_meta(path: Path) -> dict[str, Any]:
    """Family, quantization, parameter size, context and template from a GGUF header."""
    from tests.fixtures.tiny_gguf import read_gguf_metadata

    try:
        meta = {k: v for k, (v, _, _) in read_gguf_metadata(path).items()}
    except (ValueError, KeyError, struct.error):  # not a GGUF: tests may upload any bytes
        return {}
    arch = meta.get("general.architecture") or ""
    return {
        "family": arch,
        "quantization_level": FILE_TYPES.get(meta.get("general.file_type"), "unknown"),
        "parameter_size": meta.get("general.size_label") or "",
        "context_length": meta.get(f"{arch}.context_length"),
        "template": meta.get("tokenizer.chat_template") or "",
    }
