"""One loaded model of the stand-in ``ollama``: the real llama.cpp engine, in-process.

Ollama runs a llama.cpp "runner" per loaded model; this is that runner, built on
``xllamacpp.Server`` called directly (``handle_chat_completions`` / ``handle_completions``
with a per-chunk callback), so the stand-in really generates text. Ollama's request (its
``options``, ``format``, ``raw``/``system`` for generate) is translated here into llama.cpp's
request, and llama.cpp's closing ``timings`` into Ollama's final stats (nanoseconds).

Standard library plus ``xllamacpp`` only (imported when a model loads): it ships in the
stand-in's tarball.

>>> to_llama_request({"messages": [{"role": "user", "content": "Hi", "images": []}],
...                   "options": {"num_predict": 8, "temperature": 0, "num_ctx": 2048}},
...                  chat=True, parameters={"stop": ["<|im_end|>"]})
({'stop': ['<|im_end|>'], 'n_predict': 8, 'temperature': 0, 'stream': True, \
'messages': [{'role': 'user', 'content': 'Hi'}]}, True)
>>> ollama_stats({"prompt_n": 7, "prompt_ms": 19.5, "predicted_n": 3, "predicted_ms": 11.0})
{'prompt_eval_count': 7, 'prompt_eval_duration': 19500000, 'eval_count': 3, \
'eval_duration': 11000000}
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Ollama option -> llama.cpp request field. Options not listed (num_ctx, num_thread, num_gpu,
# ...) configure the runner itself, as in Ollama, and are not sent per request.
OPTION_FIELDS = {
    "num_predict": "n_predict",
    "num_keep": "n_keep",
    "temperature": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "repeat_penalty": "repeat_penalty",
    "repeat_last_n": "repeat_last_n",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "seed": "seed",
    "stop": "stop",
    "mirostat": "mirostat",
    "mirostat_tau": "mirostat_tau",
    "mirostat_eta": "mirostat_eta",
}
_JOIN_S = 30.0  # how long a cancelled generation may take to notice


def to_llama_request(
    body: dict[str, Any], *, chat: bool, parameters: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """llama.cpp's request for an Ollama chat/generate body; and whether it is a chat.

    ``parameters`` are the model's own (``create``'s ``parameters``); the request's
    ``options`` override them. ``generate`` is a chat of ``system`` + ``prompt`` unless
    ``raw`` asks for the prompt as is.
    """
    options = {**parameters, **(body.get("options") or {})}
    req: dict[str, Any] = {OPTION_FIELDS[k]: v for k, v in options.items() if k in OPTION_FIELDS}
    req["stream"] = True
    if chat:
        req["messages"] = [
            {"role": m.get("role", "user"), "content": m.get("content") or ""}
            for m in body.get("messages") or []
        ]
    elif body.get("raw"):
        req["prompt"] = body.get("prompt") or ""
    else:
        system = [{"role": "system", "content": body["system"]}] if body.get("system") else []
        req["messages"] = [*system, {"role": "user", "content": body.get("prompt") or ""}]
        chat = True
    fmt = body.get("format")
    if fmt == "json":
        req["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, dict):
        req["response_format"] = {"type": "json_schema", "json_schema": {"schema": fmt}}
    return req, chat


def ollama_stats(timings: dict[str, Any]) -> dict[str, int]:
    """Ollama's prompt/eval counts and durations (ns) from llama.cpp's ``timings``."""
    return {
        "prompt_eval_count": int(timings.get("prompt_n") or 0),
        "prompt_eval_duration": int(float(timings.get("prompt_ms") or 0) * 1e6),
        "eval_count": int(timings.get("predicted_n") or 0),
        "eval_duration": int(float(timings.get("predicted_ms") or 0) * 1e6),
    }


def _piece(chunk: dict[str, Any]) -> tuple[str, str | None]:
    """(text, finish_reason) of one streamed chunk, chat or completion shaped."""
    choice = (chunk.get("choices") or [{}])[0]
    text = (
        choice.get("text")
        or (choice.get("delta") or {}).get("content")
        or chunk.get("content")
        or ""
    )
    return text, choice.get("finish_reason") or chunk.get("stop_type")


class Runner:
    """llama.cpp serving one GGUF at one context size; ``close()`` frees it."""

    def __init__(self, gguf: Path, *, ctx: int, threads: int) -> None:
        import xllamacpp

        p = xllamacpp.CommonParams()
        p.model.path = str(gguf)
        p.n_ctx = ctx
        p.n_parallel = 1  # Ollama's default on CPU: one request at a time per model
        p.cpuparams.n_threads = p.cpuparams_batch.n_threads = threads
        p.cache_prompt = True
        p.warmup = False
        p.verbosity = -1
        p.hostnames, p.port, p.n_threads_http = ["127.0.0.1"], 0, 1  # its HTTP side is unused
        self.gguf, self.ctx = gguf, ctx
        t0 = time.monotonic()
        try:
            self._server: Any = xllamacpp.Server(p)
        except Exception as exc:  # Ollama reports a runner that cannot start like this
            raise RuntimeError(f"llama runner process has terminated: {exc}") from exc
        self.load_s = time.monotonic() - t0

    def close(self) -> None:
        self._server = None  # xllamacpp stops and frees the model in the destructor

    def stream(self, request: dict[str, Any], *, chat: bool, answer: Any) -> Iterator[str]:
        """Yield the generated text; set ``answer.done_reason``/``stats``/``error`` at the end.

        llama.cpp calls back per chunk on a worker thread; closing this generator (the client
        went away) makes the next callback cancel generation, and waits for it to stop.
        """
        chunks: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        call = self._server.handle_chat_completions if chat else self._server.handle_completions

        def on_chunk(chunk: Any) -> bool:
            chunks.put(chunk)
            return cancel.is_set()

        def work() -> None:
            try:
                result = call(request, on_chunk)
            except Exception as exc:  # noqa: BLE001 - bad request: llama.cpp raises ValueError
                result = {"error": str(exc)}
            chunks.put(result if isinstance(result, dict) and "error" in result else None)

        worker = threading.Thread(target=work, name="llama-generate", daemon=True)
        worker.start()
        try:
            while (chunk := chunks.get()) is not None:
                if "error" in chunk:
                    err = chunk["error"]
                    answer.error = err.get("message", str(err)) if isinstance(err, dict) else err
                    return
                text, finish = _piece(chunk)
                if chunk.get("timings"):
                    answer.stats = ollama_stats(chunk["timings"])
                if finish:
                    answer.done_reason = "length" if finish in ("length", "limit") else "stop"
                if text:
                    yield text
        finally:
            cancel.set()
            worker.join(_JOIN_S)
