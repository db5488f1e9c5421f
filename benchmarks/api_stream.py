"""What "one answer, streamed or not" costs an OpenAI client.

``/v1/chat/completions`` with ``stream: true`` sends the *checked* answer (citations fixed,
the extract added), so its first content delta comes when the answer is done; Olympus' own
``/api/ask`` streams the model's tokens live. In one run, the real SmolLM2 on llama.cpp over
the NUT FAQ (as ``benchmarks.api``), fresh questions for every answer (no prompt-cache advantage),
the two paths interleaved and swapped every round:

- ``/api/ask``: first token, and the end of the answer (its ``done`` event);
- ``/v1/chat/completions`` (``openai`` SDK): first byte (an SSE status comment), first
  content delta, last chunk.

Run: ``.venv/bin/python -m benchmarks.api_stream [--answers 6]``
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.api import FAQ, QUESTIONS
from benchmarks.common import (
    begin,
    format_table,
    free_port,
    latency_summary_ms,
    serve_app,
    temp_dir,
    write_json,
)


def _ask_path(http, question: str) -> tuple[float, float]:
    started, first = time.perf_counter(), float("nan")
    with http.stream("POST", "/api/ask", json={"question": question}, timeout=600) as response:
        for line in response.iter_lines():
            event = json.loads(line) if line.strip() else {}
            if event.get("type") == "token" and first != first:
                first = time.perf_counter() - started
    return first, time.perf_counter() - started


def _openai_path(http, question: str) -> tuple[float, float, float]:
    started = time.perf_counter()
    first_byte = first_content = float("nan")
    body = {"model": "olympus", "stream": True, "messages": [{"role": "user", "content": question}]}
    with http.stream("POST", "/v1/chat/completions", json=body, timeout=600) as response:
        for line in response.iter_lines():
            now = time.perf_counter() - started
            if line and first_byte != first_byte:
                first_byte = now
            if line.startswith("data: {") and first_content != first_content:
                chunk = json.loads(line[6:])
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    first_content = now
    return first_byte, first_content, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--answers", type=int, default=6, help="answers per path")
    args = parser.parse_args()
    info = begin()

    import httpx

    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.access.keys import KeyStore
    from src.api.app import build_app
    from src.library.jobs import IngestQueue
    from src.models.model_files import bundled_gguf
    from src.pipeline import RAGPipeline
    from src.settings import load_settings
    from tests.fixtures.pdfs import make_text_pdf
    from tests.integration.test_answer import PAGES

    with temp_dir("api-stream") as data, LlamaCppEngine(bundled_gguf(), port=0, ctx=2048) as engine:
        engine.wait_ready(180)
        settings = load_settings(
            data_dir=data,
            llamacpp_port=engine.port,
            backends="llamacpp,extractive",
            context_tokens=2048,
            max_answer_tokens=32,
            first_token_timeout_s=180.0,
        )
        pdf = FAQ
        if not pdf.exists():
            pdf = data.parent / f"{data.name}-manual.pdf"
            pdf.write_bytes(make_text_pdf(PAGES))
        pipeline = RAGPipeline.from_settings(settings)
        pipeline.ingest_file(pdf)
        pipeline.warm_up()
        keys = KeyStore(data)
        _, key = keys.create("bench")
        port = free_port()
        server = serve_app(
            build_app(
                pipeline,
                keys=keys,
                service_token="",
                queue=IngestQueue.from_settings(settings),
                max_upload_mb=100,
            ),
            port,
        )
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {key}"}
        )
        ask, chat = [], []
        for i in range(args.answers):
            q1, q2 = QUESTIONS[(2 * i) % len(QUESTIONS)], QUESTIONS[(2 * i + 1) % len(QUESTIONS)]
            if i % 2:
                chat.append(_openai_path(http, q1))
                ask.append(_ask_path(http, q2))
            else:
                ask.append(_ask_path(http, q1))
                chat.append(_openai_path(http, q2))
        server.should_exit = True
        pipeline.close()

    rows = {
        "/api/ask: first token (live)": latency_summary_ms([a for a, _ in ask]),
        "/api/ask: whole answer": latency_summary_ms([b for _, b in ask]),
        "chat stream: first byte (status comment)": latency_summary_ms([a for a, _, _ in chat]),
        "chat stream: first content (checked)": latency_summary_ms([b for _, b, _ in chat]),
        "chat stream: whole answer": latency_summary_ms([c for _, _, c in chat]),
    }
    print(
        format_table(
            ["path", "n", "p50 ms", "p95 ms", "mean ms"],
            [[k, v["n"], v["p50_ms"], v["p95_ms"], v["mean_ms"]] for k, v in rows.items()],
        )
    )
    print(f"wrote {write_json('api_stream', {'machine': info, 'results': rows})}")


if __name__ == "__main__":
    main()
