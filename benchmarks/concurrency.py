"""Several people at once through the API: parallel answers, the line, parallel searches.

One library (the three manuals of ``benchmarks/data/answer_set.json``), the 0.5B stand-in
(``answer_library.qwen_gguf()``) on in-process llama.cpp, the API app under uvicorn and the
official ``openai`` client, as a team server runs. For each engine configuration, the
profile's slots and, in the same run, one slot (the baseline of before):

- 1, 2, 4, 8 askers send different streamed questions at the same moment, through each route
  of ``--via``: ``/api/ask`` ("live": what the UI shows) and the OpenAI stream (which sends the
  answer once it is complete: its first token is the total). Per level: answered by the model,
  first token p50/p95 and the slowest (live: the engine's first token, from the done event's
  ``timings.first_token_ms``; a small model's answer shows the evidence before the engine is
  asked, so the first text the reader saw is its own column, from the first token event),
  total p50/p95, the engine's completion tokens and aggregate
  tokens/s (summed over the level's wall time), prompt tokens read and cached, how many waited
  in line (and were told their place), fallbacks (and whether each said why), answers the
  claim check replaced by the extract;
- for the live route, the same questions of each level again one at a time: the single
  stream the aggregate tokens/s is compared with (different questions make answers of very
  different lengths: a 4-token answer next to a 60-token one says nothing about throughput);
- the same levels answered by the extract (``model="extractive"``: no engine);
- 1, 10, 20, 50 searches at the same moment (``POST /v1/search``, sent from another process,
  as clients are): server time p50/p95 (the retrieval's own ``total_ms``) and the round trip.

Goals (2 cores): 4 at once all answered by the engine, the slowest first token
<= 3x alone, aggregate tokens/s >= 1.5x one stream; 8 at once none lost, each waiting one told
its place; 20 searches p95 server time <= 150 ms. A machine shared with other work moves the
absolute figures; the ratios within one run are what the goals compare.

Run: ``.venv/bin/python -m benchmarks.concurrency [--levels 1,2,4,8] [--slots N]
[--via live,openai]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks import common


def _ask(client: Any, question: str, model: str, barrier: threading.Barrier) -> dict[str, Any]:
    """One streamed question through the OpenAI API (its first token comes with the whole
    answer: the stream sends what the non-streamed answer says)."""
    barrier.wait()
    started = time.perf_counter()
    first, places, final = None, [], {}
    try:
        for chunk in client.chat.completions.create(
            model=model, stream=True, messages=[{"role": "user", "content": question}]
        ):
            extra = chunk.model_extra.get("olympus") or {}
            if "queue" in extra:
                places.append(extra["queue"]["position"])
            elif "answer" in extra:
                final = extra
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001 - a lost answer is a figure, not a crash
        return {"error": f"{type(exc).__name__}: {exc}", "end": time.perf_counter()}
    return _outcome(started, first, places, final)


def _ask_live(http: Any, question: str, model: str, barrier: threading.Barrier) -> dict[str, Any]:
    """One question through ``/api/ask`` (what the UI shows): the engine's first token from the
    done event's timings, and the first text the reader saw (the first token event: a small
    model's evidence comes before the engine is asked)."""
    barrier.wait()
    started = time.perf_counter()
    shown, places, final, parts = None, [], {}, 0
    backend = None if model == "olympus" else model
    try:
        with http.stream(
            "POST", "/api/ask", json={"question": question, "backend": backend}, timeout=900
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                event = json.loads(line) if line.strip() else {}
                kind = event.get("type")
                if kind == "token" and event.get("text"):
                    parts += 1
                    shown = shown if shown is not None else time.perf_counter() - started
                elif kind == "queue":
                    places.append(event["position"])
                elif kind == "done":
                    final = event
                elif kind == "error":
                    raise RuntimeError(event.get("message", "error event"))
    except Exception as exc:  # noqa: BLE001 - a lost answer is a figure, not a crash
        return {"error": f"{type(exc).__name__}: {exc}", "end": time.perf_counter()}
    engine_ms = (final.get("timings") or {}).get("first_token_ms")
    first = engine_ms / 1000 if engine_ms is not None and final.get("backend_name") else None
    return {**_outcome(started, first, places, final, parts), "first_text_s": shown}


def _outcome(
    started: float,
    first: float | None,
    places: list[int],
    final: dict[str, Any],
    parts: int | None = None,
) -> dict[str, Any]:
    timings = final.get("timings") or {}
    if "completion_tokens" not in timings and parts and final.get("backend_name") != "extractive":
        # an answer cut short carries no engine count: its streamed pieces (about one token
        # each) stand in, so the aggregate does not drop the tokens it did write
        timings = {**timings, "completion_tokens": float(parts), "estimated": 1.0}
    return {
        "first_s": first,
        "total_s": time.perf_counter() - started,
        "end": time.perf_counter(),
        "start": started,
        "backend": final.get("backend_name", ""),
        "places": places,
        "tokens": float(timings.get("completion_tokens") or 0.0),
        "prompt": int(final.get("prompt_tokens") or 0),
        "cached": int(timings.get("cached_prompt_tokens") or 0),
        "counted": "completion_tokens" in timings and "estimated" not in timings,
        "answer": final.get("answer", ""),
        "interrupted": final.get("interrupted", False),
        "mode": final.get("mode", ""),
        "mode_reason": final.get("mode_reason", ""),
        "fallback_note": final.get("fallback_note", ""),
        "skipped": final.get("skipped", {}),
    }


def ask_level(
    clients: dict[str, Any],
    questions: list[str],
    n: int,
    model: str,
    via: str,
    *,
    sequential: bool = False,
) -> dict[str, Any]:
    """``n`` askers at the same moment, each a different question, through ``via``: "live"
    (``/api/ask``, tokens as written) or "openai" (the OpenAI stream)."""
    asker = _ask_live if via == "live" else _ask
    if sequential:  # the same questions one at a time: the single stream they are compared to
        runs = [
            asker(clients[via], questions[i % len(questions)], model, threading.Barrier(1))
            for i in range(n)
        ]
    else:
        barrier = threading.Barrier(n)
        with ThreadPoolExecutor(n) as pool:
            runs = list(
                pool.map(
                    lambda i: asker(clients[via], questions[i % len(questions)], model, barrier),
                    range(n),
                )
            )
    done = [r for r in runs if "error" not in r]
    firsts = [r["first_s"] for r in done if r["first_s"] is not None]
    texts = [r["first_text_s"] for r in done if r.get("first_text_s") is not None]
    totals = [r["total_s"] for r in done]
    wall = (
        sum(totals)
        if sequential
        else (max(r["end"] for r in done) - min(r["start"] for r in done))
        if done
        else 0.0
    )
    fallbacks = [r for r in done if r["backend"] != "llamacpp" and model != "extractive"]
    pct = common.percentile
    return {
        "askers": n,
        "via": via,
        "answered": len(done),
        "lost": len(runs) - len(done),
        "by_model": sum(r["backend"] == "llamacpp" for r in done),
        "first_p50_s": pct(firsts, 50) if firsts else None,
        "first_p95_s": pct(firsts, 95) if firsts else None,
        "first_max_s": max(firsts) if firsts else None,
        "first_text_p50_s": pct(texts, 50) if texts else None,
        "first_text_max_s": max(texts) if texts else None,
        "total_p50_s": pct(totals, 50) if totals else None,
        "total_p95_s": pct(totals, 95) if totals else None,
        "tokens": sum(r["tokens"] for r in done),
        "wall_s": wall,
        "tokens_per_s": sum(r["tokens"] for r in done) / wall if wall else 0.0,
        "uncounted": sum(not r["counted"] for r in done),
        # the engine's prompt work: tokens read and those its cache already held (a shared
        # prefix reused across slots shows here, whatever the machine's load)
        "prompt_tokens": sum(r["prompt"] for r in done),
        "cached_tokens": sum(r["cached"] for r in done),
        "interrupted": sum(bool(r["interrupted"]) for r in done),
        "waited": sum(bool(r["places"]) for r in done),
        "fallbacks": len(fallbacks),
        "fallbacks_with_reason": sum(bool(r["fallback_note"]) for r in fallbacks),
        "answers": [
            (r["tokens"], r["mode"], r["mode_reason"][:120], r["answer"][:100]) for r in done
        ],
        # the model wrote, and the claim check kept none of it (a small model: the evidence)
        "extract_shown": sum(r["mode"] == "extract" and r["backend"] == "llamacpp" for r in done),
        "errors": [r["error"] for r in runs if "error" in r][:3],
    }


def search_level(url: str, key: str, questions: list[str], n: int) -> dict[str, Any]:
    """``n`` searches at the same moment, sent by another process (as real clients are: in
    this process their threads would share the server's interpreter lock and inflate its
    time)."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.concurrency", "--search-clients", url, key, str(n)],
        input=json.dumps(questions),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    server, trip = [s for s, _ in results], [t for _, t in results]
    pct = common.percentile
    return {
        "searches": n,
        "server_p50_ms": pct(server, 50),
        "server_p95_ms": pct(server, 95),
        "trip_p50_ms": pct(trip, 50),
        "trip_p95_ms": pct(trip, 95),
    }


def search_clients(url: str, key: str, n: int, questions: list[str]) -> list[tuple[float, float]]:
    """The client side of ``search_level``: (server total_ms, round trip ms) per search."""
    import httpx

    barrier = threading.Barrier(n)

    def one(i: int) -> tuple[float, float]:
        with httpx.Client(timeout=120) as http:
            barrier.wait()
            t0 = time.perf_counter()
            r = http.post(
                f"{url}/v1/search",
                headers={"authorization": f"Bearer {key}"},
                json={"query": questions[i % len(questions)], "k": 5},
            )
            r.raise_for_status()
            return r.json()["timings"]["total_ms"], (time.perf_counter() - t0) * 1000

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def run_config(
    library: Any, gguf: Any, slots: int, args: argparse.Namespace, questions: list[str]
) -> dict[str, Any]:
    import httpx
    import openai

    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.access.keys import KeyStore
    from src.answer.answerer import Answerer
    from src.api.app import build_app
    from src.library.jobs import IngestQueue
    from src.pipeline import RAGPipeline
    from src.supervisor.provisioner import llamacpp_warm_up

    with LlamaCppEngine(gguf, port=0, ctx=args.ctx, parallel=slots) as engine:
        engine.wait_ready(300)
        llamacpp_warm_up(engine.url, 300, slots=slots)  # as the supervisor does at start-up
        settings = library.settings.model_copy(
            update=dict(
                llamacpp_port=engine.port,
                backends="llamacpp,extractive",
                context_tokens=args.ctx,
                max_answer_tokens=args.max_tokens,
                first_token_timeout_s=args.deadline,
                stall_timeout_s=max(30.0, args.deadline / 10),
                parallel_answers=slots,
                answer_queue=args.queue,
            )
        )
        answerer = Answerer.from_settings(settings, library=library)
        pipeline = RAGPipeline(settings, library=library, answerer=answerer)
        keys = KeyStore(settings.data_dir)
        _, key = keys.create(f"concurrency-{slots}-{os.getpid()}")
        app = build_app(
            pipeline,
            keys=keys,
            service_token="",
            max_upload_mb=1,
            queue=IngestQueue.from_settings(settings),
        )
        port = common.free_port()
        server = common.serve_app(app, port)
        url = f"http://127.0.0.1:{port}"
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=900)
        http = httpx.Client(
            base_url=url,
            headers={"authorization": f"Bearer {key}"},
            timeout=900,
            limits=httpx.Limits(max_connections=64),
        )
        clients = {"openai": client, "live": http}
        try:
            ask_level(clients, questions, 1, "olympus", "live")  # warm: model pages, cache
            out: dict[str, Any] = {"slots": slots, "answers": [], "extract": [], "search": []}
            for n in args.levels:
                for offset, via in enumerate(args.via):
                    # each route its own questions: a slot's prompt cache must not favour one
                    start = n + 20 * offset
                    row = ask_level(
                        clients, questions[start:] + questions[:start], n, "olympus", via
                    )
                    print(f"  slots={slots} askers={n}: {row}", flush=True)
                    if n > 1 and via == "live":
                        # tokens/s of these questions one at a time (asked after, so their
                        # prompts may be cached: if anything, this favours the single stream)
                        alone = ask_level(
                            clients,
                            questions[start:] + questions[:start],
                            n,
                            "olympus",
                            via,
                            sequential=True,
                        )
                        row["one_at_a_time"] = {
                            k: alone[k]
                            for k in ("tokens", "wall_s", "tokens_per_s", "first_max_s", "answers")
                        }
                        print(f"    one at a time: {row['one_at_a_time']}", flush=True)
                    out["answers"].append(row)
            for n in args.levels:
                out["extract"].append(ask_level(clients, questions, n, "extractive", "live"))
            for n in args.searches:
                out["search"].append(search_level(url, key, questions, n))
                print(f"  slots={slots} searches={n}: {out['search'][-1]}", flush=True)
            return out
        finally:
            http.close()
            server.should_exit = True
            time.sleep(0.5)


def _ratios(answers: list[dict[str, Any]]) -> None:
    """What the goals compare: the slowest first token against one asker alone, aggregate
    tokens/s against one stream."""
    alone = next((r for r in answers if r["askers"] == 1), None)
    if alone is None:
        return
    for r in answers:
        if r["askers"] == 1:
            continue
        first = (
            f"{r['first_max_s'] / alone['first_max_s']:.2f}x"
            if alone["first_max_s"] and r["first_max_s"]
            else "-"
        )
        single = r.get("one_at_a_time") or alone  # the same questions one by one, if asked
        rate = (
            f"{r['tokens_per_s'] / single['tokens_per_s']:.2f}x" if single["tokens_per_s"] else "-"
        )
        rate += (
            " (the same questions one at a time)"
            if "one_at_a_time" in r
            else " (the question alone)"
        )
        print(
            f"  {r['askers']} at once: slowest first token {first} alone (goal at 4: <= 3x), "
            f"aggregate tok/s {rate} one stream (goal at 4: >= 1.5x)"
            + (
                f"; {r['uncounted']} answers cut short (their streamed pieces counted)"
                if r.get("uncounted")
                else ""
            )
            + (
                f"; prompts {r['prompt_tokens']} tokens, {r['cached_tokens']} from the cache"
                if r.get("prompt_tokens")
                else ""
            )
            + (
                f"; {r['extract_shown']} of {r['askers']} replaced by the extract after the "
                "model wrote (claim check)"
                if r.get("extract_shown")
                else ""
            )
        )


def _report(configs: list[dict[str, Any]]) -> None:
    def f(v: Any, digits: int = 1) -> str:
        return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    for cfg in configs:
        for via in dict.fromkeys(r.get("via", "openai") for r in cfg["answers"]):
            answers = [r for r in cfg["answers"] if r.get("via", "openai") == via]
            print(
                f"\n== {cfg['slots']} slot(s): the 0.5B stand-in, "
                + (
                    "/api/ask (as the UI; first = the engine's first token, text = the first text shown)"
                    if via == "live"
                    else "the OpenAI stream (the answer is sent when complete: first token = total)"
                )
            )
            rows = [
                [
                    r["askers"],
                    f"{r['by_model']}/{r['askers']}",
                    f(r["first_p50_s"]),
                    f(r["first_p95_s"]),
                    f(r["first_max_s"]),
                    f(r.get("first_text_p50_s")),
                    f(r.get("first_text_max_s")),
                    f(r["total_p50_s"]),
                    f(r["total_p95_s"]),
                    f"{r.get('tokens', 0):.0f}",
                    f(r["tokens_per_s"]),
                    r["waited"],
                    f"{r['fallbacks']} ({r['fallbacks_with_reason']} said why)",
                    r["lost"],
                ]
                for r in answers
            ]
            print(
                common.format_table(
                    [
                        "askers",
                        "by model",
                        "first p50 s",
                        "first p95 s",
                        "first max s",
                        "text p50 s",
                        "text max s",
                        "total p50 s",
                        "total p95 s",
                        "tokens",
                        "agg tok/s",
                        "waited",
                        "fallbacks",
                        "lost",
                    ],
                    rows,
                )
            )
            _ratios(answers)
        print(
            "  the extract: "
            + ", ".join(
                f"{r['askers']} at once total p95 {f(r['total_p95_s'], 2)} s"
                for r in cfg["extract"]
            )
        )
        print(
            common.format_table(
                ["searches", "server p50 ms", "server p95 ms", "trip p50 ms", "trip p95 ms"],
                [
                    [
                        r["searches"],
                        f(r["server_p50_ms"]),
                        f(r["server_p95_ms"]),
                        f(r["trip_p50_ms"]),
                        f(r["trip_p95_ms"]),
                    ]
                    for r in cfg["search"]
                ],
            )
        )


def main() -> None:
    if sys.argv[1:2] == ["--search-clients"]:  # the client process of search_level
        url, key, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(json.dumps(search_clients(url, key, n, json.loads(sys.stdin.read()))))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8]
    )
    parser.add_argument(
        "--searches", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 20, 50]
    )
    parser.add_argument(
        "--via",
        type=lambda s: s.split(","),
        default=["live", "openai"],
        help="routes the askers use: live (/api/ask), openai (/v1 stream)",
    )
    parser.add_argument("--slots", type=int, default=0, help="0: the profile's choice here")
    parser.add_argument("--queue", type=int, default=16, help="questions that may wait")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument(
        "--deadline",
        type=float,
        default=90.0,
        help="first-token deadline (the profile's on 2 cores)",
    )
    parser.add_argument(
        "--baseline-levels",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="askers for the one-slot run (default: --levels)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-slot run")
    args = parser.parse_args()
    info = common.begin()
    print(f"load before: {os.getloadavg()}")

    from benchmarks.answer_library import cached_library, load_answer_set, qwen_gguf
    from src.models.profile import detect

    answer_set = load_answer_set()
    questions = [q["question"] for q in answer_set["questions"]]
    gguf = qwen_gguf()
    with cached_library(answer_set) as library:
        slots = args.slots or detect(library.settings).parallel_answers
        configs = [run_config(library, gguf, slots, args, questions)]
        if not args.no_baseline and slots != 1:
            base = argparse.Namespace(
                **{**vars(args), "levels": args.baseline_levels or args.levels}
            )
            configs.append(run_config(library, gguf, 1, base, questions))
    _report(configs)
    print(f"load after: {os.getloadavg()}")
    common.write_json(
        "concurrency",
        {"machine": info, "args": vars(args), "configs": configs, "load_after": os.getloadavg()},
    )


if __name__ == "__main__":
    main()
