"""The service API against the cold CLI and the in-process path.

One data dir with a real manual (NUT FAQ, else a generated 4-page PDF) and the real SmolLM2
on llama.cpp. In one run:

1. search latency of the cold CLI: ``python -m src search QUERY --json`` as a new process
   that opens the stores itself (before the service holds them; Milvus Lite allows one);
2. search latency through the API (``POST /v1/search``, one kept-alive connection), and the
   wall time of the CLI when it finds the running service (``python -m src search QUERY
   --json`` as a new process, start to exit: it loads no store or model module), against (1);
3. first-token time: ``RAGPipeline.ask`` in-process (what the UI did before the service API)
   against the same question streamed through ``/v1/chat/completions`` with the ``openai`` SDK,
   the two interleaved question by question.

The API runs under uvicorn in this process over the same pipeline, so (3) measures what the
HTTP layer adds. Run: ``.venv/bin/python -m benchmarks.api [--n 40] [--cold 5] [--via 20]
[--answers 6]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import (
    ROOT,
    begin,
    format_table,
    free_port,
    latency_summary_ms,
    serve_app,
    temp_dir,
    write_json,
)

QUERIES = [
    "What does upsd listen on?",
    "How do I monitor a UPS over the network?",
    "Which drivers support USB UPS units?",
    "Why does upsmon shut the system down?",
    "How are passwords configured for upsmon?",
]
# distinct questions, so neither path finds the other's prompt in the engine's cache
QUESTIONS = [
    "What is NUT?",
    "What does upsmon do?",
    "How do I test the shutdown?",
    "Which port does upsd use?",
    "What is a UPS driver?",
    "How do I add a user?",
    "What does upsc show?",
    "Can NUT monitor several UPS units?",
    "What is the role of upssched?",
    "How do I change the polling interval?",
    "Why is my UPS not detected?",
    "What does the FSD flag mean?",
    "Which file lists the UPS units?",
    "How are clients authenticated?",
]
FAQ = Path("/usr/share/doc/nut-doc/pdf/FAQ.pdf")


def _cli(env: dict[str, str], query: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``python -m src search`` process, start to exit (its CPU
    time is what contention from other processes does not inflate)."""
    started, before = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        [sys.executable, "-m", "src", "search", query, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"CLI search failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started, _children_cpu() - before


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _first_token_local(pipeline, question: str) -> float:
    from src.events import TokenEvent

    started, first = time.perf_counter(), None
    for event in pipeline.ask(question):  # to the end, as the UI does
        if first is None and isinstance(event, TokenEvent) and event.text:
            first = time.perf_counter() - started
    return first if first is not None else float("nan")


def _first_token_api(client, question: str) -> float:
    started, first = time.perf_counter(), None
    for chunk in client.chat.completions.create(
        model="olympus", stream=True, messages=[{"role": "user", "content": question}]
    ):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    return first if first is not None else float("nan")


def _first_tokens(pipeline, client, rounds: int) -> tuple[list[float], list[float]]:
    """Interleaved, the order swapped every round, a fresh question for every answer."""
    local, api = [], []
    for i in range(rounds):
        q1, q2 = QUESTIONS[(2 * i) % len(QUESTIONS)], QUESTIONS[(2 * i + 1) % len(QUESTIONS)]
        if i % 2:
            api.append(_first_token_api(client, q1))
            local.append(_first_token_local(pipeline, q2))
        else:
            local.append(_first_token_local(pipeline, q1))
            api.append(_first_token_api(client, q2))
    return local, api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40, help="API searches")
    parser.add_argument("--cold", type=int, default=5, help="cold CLI searches")
    parser.add_argument("--via", type=int, default=20, help="CLI searches through the service")
    parser.add_argument("--answers", type=int, default=6, help="first-token rounds per path")
    args = parser.parse_args()
    info = begin()

    import httpx
    import openai

    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.access.keys import KeyStore, new_service_token
    from src.api.app import build_app
    from src.library.jobs import IngestQueue
    from src.models.model_files import bundled_gguf
    from src.pipeline import RAGPipeline
    from src.settings import load_settings
    from src.status import StatusFile
    from tests.fixtures.pdfs import make_text_pdf
    from tests.integration.test_answer import PAGES

    with temp_dir("api") as data, LlamaCppEngine(bundled_gguf(), port=0, ctx=2048) as engine:
        engine.wait_ready(180)
        overrides = dict(
            llamacpp_port=engine.port,
            backends="llamacpp,extractive",
            context_tokens=2048,
            max_answer_tokens=32,
            first_token_timeout_s=180.0,
        )
        settings = load_settings(data_dir=data, **overrides)
        env = {
            **os.environ,
            "OLYMPUS_DATA_DIR": str(data),
            "OLYMPUS_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        pdf = FAQ
        if not pdf.exists():
            pdf = data.parent / f"{data.name}-manual.pdf"
            pdf.write_bytes(make_text_pdf(PAGES))
        # ingested by a CLI process: Milvus Lite keeps this process's lock until it exits
        subprocess.run(
            [sys.executable, "-m", "src", "ingest", str(pdf), "--no-progress"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=1800,
        )

        cold = [_cli(env, QUERIES[i % len(QUERIES)]) for i in range(args.cold)]

        pipeline = RAGPipeline.from_settings(settings)
        doc = pipeline.documents()[0]
        print(f"library: {doc.name}, {doc.pages} pages, {doc.chunks} passages")
        pipeline.warm_up()
        keys = KeyStore(data)
        _, key = keys.create("bench")
        token = new_service_token(data)
        port = free_port()
        server = serve_app(
            build_app(
                pipeline,
                keys=keys,
                service_token=token,
                queue=IngestQueue.from_settings(settings),
                max_upload_mb=100,
            ),
            port,
        )
        url = f"http://127.0.0.1:{port}"
        StatusFile(settings.status_path).replace("api", state="ready", url=url)
        http = httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"})
        http.post("/v1/search", json={"query": "warm up"}).raise_for_status()
        api = []
        for i in range(args.n):
            started = time.perf_counter()
            http.post("/v1/search", json={"query": QUERIES[i % len(QUERIES)]}).raise_for_status()
            api.append(time.perf_counter() - started)
        via_service = [_cli(env, QUERIES[i % len(QUERIES)]) for i in range(args.via)]
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=600)
        local_ft, api_ft = _first_tokens(pipeline, client, args.answers)
        server.should_exit = True
        pipeline.close()

    _report(info, doc, cold, via_service, api, local_ft, api_ft)


def _report(info, doc, cold, via_service, api, local_ft, api_ft) -> None:
    rows = {
        "search: cold CLI (own stores)": latency_summary_ms([w for w, _ in cold]),
        "search: CLI via the service": latency_summary_ms([w for w, _ in via_service]),
        "  CPU of that CLI process": latency_summary_ms([c for _, c in via_service]),
        "search: API POST /v1/search": latency_summary_ms(api),
        "first token: in-process ask": latency_summary_ms(local_ft),
        "first token: API stream (openai)": latency_summary_ms(api_ft),
    }
    print(
        format_table(
            ["path", "n", "p50 ms", "p95 ms", "mean ms"],
            [[k, v["n"], v["p50_ms"], v["p95_ms"], v["mean_ms"]] for k, v in rows.items()],
        )
    )
    cold_p50 = rows["search: cold CLI (own stores)"]["p50_ms"]
    speedup = cold_p50 / rows["search: API POST /v1/search"]["p50_ms"]
    cli_speedup = cold_p50 / rows["search: CLI via the service"]["p50_ms"]
    print(f"API search p50 is {speedup:.0f}x faster than the cold CLI")
    print(
        f"CLI search through the service (whole process) p50 is {cli_speedup:.0f}x faster "
        "than the cold CLI"
    )
    path = write_json(
        "api",
        {
            "machine": info,
            "document": {"name": doc.name, "pages": doc.pages, "passages": doc.chunks},
            "results": rows,
            "search_speedup_p50": round(speedup, 1),
            "cli_via_service_speedup_p50": round(cli_speedup, 1),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
