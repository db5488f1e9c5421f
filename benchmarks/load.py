"""Load: concurrent askers and uploaders on one real pipeline, as the Streamlit app shares it.

One process, one ``RAGPipeline`` (real stores, MiniLM, the bundled SmolLM2-135M served by
llama.cpp) and the app's own upload queue (``src/library/jobs.py``), used from threads the way
browser sessions use them. First, each question is asked alone (baseline); then ``--askers``
threads ask in a loop while ``--uploaders`` threads upload generated PDFs one after another,
for ``--minutes``. Reported: first-token time (p50/p95) alone vs under load, answers that
fell back or failed, and at the end that no upload was lost and every index agrees on every
document (vectors = keywords = the document store's passages).

Run: ``.venv/bin/python -m benchmarks.load [--minutes 3] [--askers 5] [--uploaders 2]``
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import common
from src.protocols import Pipeline

SEED = [
    Path("/usr/share/doc/nut-doc/pdf/FAQ.pdf"),
    Path("/usr/share/doc/systemtap-doc/tutorial.pdf"),
]
QUESTIONS = [
    "What is a UPS driver?",
    "How do I probe a kernel function?",
    "Which port does upsd listen on?",
    "How do I print a backtrace in a probe?",
    "What does upsmon do when the battery is low?",
]


def _ask(pipeline: Pipeline, question: str) -> dict[str, Any]:
    from src.events import DoneEvent

    start = time.perf_counter()
    for event in pipeline.ask(question):
        if isinstance(event, DoneEvent):
            return {
                "first_token_ms": event.timings.get("first_token_ms"),
                "total_s": time.perf_counter() - start,
                "backend": event.backend_name,
                "error": event.error,
                "interrupted": event.interrupted,
            }
    return {"error": "no DoneEvent", "backend": ""}


def _pdf(owner: str, n: int) -> bytes:
    from tests.fixtures.pdfs import make_text_pdf

    topic = f"{owner} upload {n}"
    return make_text_pdf(
        [
            f"{topic}, page {p}: the pelican pond pump runs {p + n} hours a day "
            "and its filter is cleaned every week. " * 6
            for p in range(12)
        ]
    )


class Load:
    def __init__(self, pipeline: Pipeline, queue: Any, until: float) -> None:
        self.pipeline, self.queue, self.until = pipeline, queue, until
        self.answers: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.uploaded: list[str] = []
        self.lock = threading.Lock()

    def asker(self, index: int) -> None:
        i = index
        while time.monotonic() < self.until:
            try:
                result = _ask(self.pipeline, QUESTIONS[i % len(QUESTIONS)])
            except Exception as exc:  # noqa: BLE001 - counted and reported
                result = {"error": f"{type(exc).__name__}: {exc}", "backend": ""}
            with self.lock:
                self.answers.append(result)
            i += 1

    def uploader(self, owner: str) -> None:
        n = 0
        while time.monotonic() < self.until:
            name = f"{owner}-{n}.pdf"
            try:
                job = self.queue.submit(self.pipeline, name, _pdf(owner, n), owner=owner)
            except Exception as exc:  # noqa: BLE001
                with self.lock:
                    self.errors.append(f"{name}: {exc}")
                break
            while self.queue.active(owner):
                time.sleep(0.2)
            state = next(j for j in self.queue.jobs(owner) if j.id == job)
            with self.lock:
                if state.state == "added":
                    self.uploaded.append(name)
                else:
                    self.errors.append(f"{name}: {state.state} {state.message}")
            n += 1


def _consistency(pipeline: Pipeline, expected: Sequence[str]) -> dict[str, Any]:
    lib = pipeline.library
    docs = lib.documents()
    names = {d.name for d in docs}
    chunks = sum(d.chunks for d in docs)
    return {
        "documents": len(docs),
        "missing_uploads": sorted(set(expected) - names),
        "passages": chunks,
        "vectors": lib.stores.vectors.count(),
        "keywords": lib.stores.keywords.count(),
        "pending": len(lib.docstore.pending_documents()),
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ft = [r["first_token_ms"] for r in rows if r.get("first_token_ms") is not None]
    return {
        "answers": len(rows),
        "first_token_ms_p50": round(common.percentile(ft, 50)) if ft else None,
        "first_token_ms_p95": round(common.percentile(ft, 95)) if ft else None,
        "by_local_model": sum(r.get("backend") == "llamacpp" for r in rows),
        "fallbacks": sum(r.get("backend") not in ("llamacpp", "") for r in rows),
        "errors": [r["error"] for r in rows if r.get("error")][:5],
        "interrupted": sum(bool(r.get("interrupted")) for r in rows),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--askers", type=int, default=5)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args(argv)
    info = common.begin()

    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.library.jobs import IngestQueue
    from src.models.model_files import bundled_gguf
    from src.pipeline import RAGPipeline
    from src.settings import load_settings

    with (
        common.temp_dir("load") as data_dir,
        LlamaCppEngine(bundled_gguf(), port=0, ctx=4096) as engine,
    ):
        engine.wait_ready(120)
        settings = load_settings(
            data_dir=data_dir,
            backends="llamacpp,extractive",
            llamacpp_port=engine.port,
            context_tokens=4096,
            max_answer_tokens=args.max_tokens,
            first_token_timeout_s=120,
            stall_timeout_s=60,
        )
        pipeline = RAGPipeline.from_settings(settings)
        for path in SEED:
            if path.exists():
                pipeline.ingest_file(path)
        _ask(pipeline, "warm up")
        baseline = [_ask(pipeline, q) for q in QUESTIONS]
        queue = IngestQueue.from_settings(settings)
        load = Load(pipeline, queue, time.monotonic() + args.minutes * 60)
        threads = [threading.Thread(target=load.asker, args=(i,)) for i in range(args.askers)]
        threads += [
            threading.Thread(target=load.uploader, args=(f"session{i}",))
            for i in range(args.uploaders)
        ]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        queue.shutdown()
        check = _consistency(pipeline, load.uploaded)
        pipeline.close()

    alone, loaded = _summary(baseline), _summary(load.answers)
    print(
        common.format_table(
            [
                "run",
                "answers",
                "first token p50 ms",
                "p95 ms",
                "local model",
                "fallbacks",
                "errors",
            ],
            [
                [
                    "alone (baseline)",
                    alone["answers"],
                    alone["first_token_ms_p50"],
                    alone["first_token_ms_p95"],
                    alone["by_local_model"],
                    alone["fallbacks"],
                    len(alone["errors"]),
                ],
                [
                    f"{args.askers} askers + {args.uploaders} uploaders",
                    loaded["answers"],
                    loaded["first_token_ms_p50"],
                    loaded["first_token_ms_p95"],
                    loaded["by_local_model"],
                    loaded["fallbacks"],
                    len(loaded["errors"]),
                ],
            ],
        )
    )
    print(
        f"{elapsed / 60:.1f} min under load; uploads indexed: {len(load.uploaded)}, "
        f"upload errors: {load.errors or 'none'}"
    )
    print(f"library at the end: {check}")
    ok = (
        not load.errors
        and not check["missing_uploads"]
        and not check["pending"]
        and check["passages"] == check["vectors"] == check["keywords"]
        and not loaded["errors"]
    )
    print("RESULT:", "no error, no lost document, indexes agree" if ok else "PROBLEMS (see above)")
    path = common.write_json(
        "load",
        {
            "machine": info,
            "args": vars(args),
            "alone": alone,
            "under_load": loaded,
            "uploads": load.uploaded,
            "upload_errors": load.errors,
            "library": check,
            "ok": ok,
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
