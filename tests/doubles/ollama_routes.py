"""The HTTP side of the Ollama double: Ollama's REST routes over an ``OllamaDouble``.

Parses requests, records them, answers in Ollama's JSON/NDJSON shapes and applies the
scripted faults; what a model is, loading and generating are the double's hooks
(``ollama_server.OllamaDouble``), so the stand-in ``ollama`` reuses every route unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from .gguf_header import ollama_details
from .ollama_server import (
    VERSION,
    Answer,
    OllamaDouble,
    Recorded,
    _full_name,
    _keep_alive_seconds,
    _Model,
    _now,
)

_DIGEST_RE = re.compile(r"^/api/blobs/(sha256:[0-9a-f]{64})$")


class Handler(BaseHTTPRequestHandler):
    double: OllamaDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # stdlib's name
        self.double.log_request(self.address_string(), format % args)

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
            models = list(self.double.models.values())
            self._send_json(200, {"models": [m.tag() for m in models]})
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
        if (m and self.double.has_blob(m.group(1))) or self.path == "/":
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
        model = self.double.forget(name)
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
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(path)  # a crash mid-upload leaves no half blob under the real name
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
            out.append(
                {
                    **model.tag(),
                    "expires_at": exp,
                    "size_vram": 0,
                    "context_length": model.context_length,
                }
            )
        return out

    def _show(self, body: dict[str, Any]) -> None:
        model = self._model(body.get("model") or body.get("name"))
        if model is None:
            return self._send_json(404, {"error": f"model '{body.get('model')}' not found"})
        params = "\n".join(
            f"{k:<30} {json.dumps(v) if isinstance(v, str) else v}"
            for k, v in model.parameters.items()
        )
        self._send_json(
            200,
            {
                "modelfile": f'# Modelfile generated by "ollama show"\nFROM {model.name}\n',
                "parameters": params,
                "template": model.template or "{{ .Prompt }}",
                "details": model.details(),
                "model_info": {
                    "general.architecture": model.family,
                    f"{model.family}.context_length": model.context_length,
                },
                "capabilities": ["completion"],
                "modified_at": model.modified_at,
            },
        )

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
            lines.append(
                {
                    "status": f"pulling {digest[7:19]}",
                    "digest": digest,
                    "total": size,
                    "completed": completed,
                }
            )
        lines += [
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]
        if name not in self.double.models:  # pulling again keeps what is there
            self.double.register(_Model(name, size=size, digest=digest[7:]))
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
            meta = meta or ollama_details(path)
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
            blob=next(iter(files.values()), "") or (base.blob if base else ""),
        )
        if params:
            lines.append({"status": "creating new layer sha256:" + "1" * 64})
        lines += [{"status": "writing manifest"}, {"status": "success"}]
        self.double.register(model)
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
        t0 = time.monotonic()
        model = self._model(body.get("model"))
        if model is None:
            return self._not_found(body.get("model") or "")
        seconds = _keep_alive_seconds(body.get("keep_alive"), self.double.keep_alive_s)
        empty = not body.get("messages") if chat else not body.get("prompt")
        base = {"model": body.get("model"), "created_at": _now()}

        def piece(text: str, done: bool, **extra: Any) -> dict[str, Any]:
            if chat:
                return {
                    **base,
                    "message": {"role": "assistant", "content": text},
                    "done": done,
                    **extra,
                }
            return {**base, "response": text, "done": done, **extra}

        if empty and seconds == 0:  # keep_alive 0 and nothing to answer: unload
            self.double.unload(model.name)
            return self._send_json(200, piece("", True, done_reason="unload"))
        try:
            load_s = self.double.load(model, body.get("options") or {})
        except RuntimeError as exc:  # the stand-in's runner could not start
            return self._send_json(500, {"error": str(exc)})
        try:
            if empty:  # warm-up
                return self._send_json(200, piece("", True, done_reason="load"))
            answer = self.double.generate(model, body, chat)
            try:
                self._respond(
                    answer,
                    piece,
                    body.get("stream") is not False,
                    lambda: _final_stats(answer, load_s, t0),
                )
            finally:
                answer.close()
        finally:
            self.double.keep(model.name, seconds)

    def _respond(self, answer: Answer, piece: Any, stream: bool, stats: Any) -> None:
        script = self.double.script
        if not stream:
            time.sleep(script.first_token_delay_s)
            text = "".join(answer)
            if answer.error:
                return self._send_json(500, {"error": answer.error})
            return self._send_json(
                200, piece(text, True, done_reason=answer.done_reason, **stats())
            )
        self._start_stream()
        if self.double.stopping.wait(script.first_token_delay_s):
            return
        try:
            for i, text in enumerate(answer):
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
            if answer.error:  # the runner failed mid-answer: Ollama's error line
                self._chunk({"error": answer.error})
                return self._end_stream()
            self._chunk(piece("", True, done_reason=answer.done_reason, **stats()))
            self._end_stream()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client went away (stop pressed)
            with self.double.lock:
                self.double.aborted += 1


def _final_stats(answer: Answer, load_s: float, t0: float) -> dict[str, int]:
    """Ollama's closing numbers (ns); total covers load, prompt and generation."""
    stats = {"load_duration": int(load_s * 1e9), **answer.stats}
    spent = (
        stats["load_duration"]
        + stats.get("prompt_eval_duration", 0)
        + stats.get("eval_duration", 0)
    )
    return {"total_duration": max(int((time.monotonic() - t0) * 1e9), spent), **stats}
