"""Engine benchmark: SmolLM2-135M on llama.cpp (xllamacpp, in-process) on this machine.

Figures, all with the same ~1,000-token prompt built from a real manual (bashref.pdf):
- model load time (engine start until /health answers);
- prompt processing (tokens/s), generation (tokens/s) and time to first token, raw HTTP;
- the same prompt a second time: llama.cpp's prompt cache reuses it (cached tokens, TTFT);
- the same measurement through Olympus' FallbackChain + hf_inference backend, on a fresh
  prompt of the same size, and the ratio of its TTFT to the raw engine's (chain overhead).

    .venv/bin/python -m benchmarks.engine [--tokens 1000] [--max-tokens 64] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from benchmarks.common import begin, format_table, write_json

MANUAL = "/usr/share/doc/bash-doc/bashref.pdf"
SYSTEM = "You answer questions about the documents below. Cite sources as [n]."


def manual_text(pages: range = range(10, 40)) -> str:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(MANUAL)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in pages)
    finally:
        pdf.close()


def build_prompt(url: str, text: str, target_tokens: int, nonce: str) -> tuple[list[dict], int]:
    """Messages whose chat-templated prompt is about ``target_tokens`` tokens."""
    import httpx

    words = text.split()
    lo, hi = 50, len(words)
    while lo < hi:  # binary search on the number of words
        mid = (lo + hi + 1) // 2
        n = _count(url, nonce, " ".join(words[:mid]))
        lo, hi = (mid, hi) if n <= target_tokens else (lo, mid - 1)
    body = " ".join(words[:lo])
    messages = [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"[{nonce}] Sources:\n{body}\n\nQuestion: What does the set builtin do?",
        },
    ]
    r = httpx.post(f"{url}/apply-template", json={"messages": messages}, timeout=30)
    prompt = r.json()["prompt"]
    tokens = httpx.post(f"{url}/tokenize", json={"content": prompt}, timeout=30).json()["tokens"]
    return messages, len(tokens)


def _count(url: str, nonce: str, body: str) -> int:
    import httpx

    r = httpx.post(f"{url}/tokenize", json={"content": f"{SYSTEM} [{nonce}] {body}"}, timeout=30)
    return len(r.json()["tokens"])


def raw_stream(url: str, messages: list[dict], max_tokens: int) -> dict[str, float]:
    """POST /v1/chat/completions (SSE) with httpx; time the first content delta."""
    import httpx

    t0 = time.perf_counter()
    first = None
    final: dict = {}
    body = {
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "cache_prompt": True,
    }
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=300) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices", []):
                if first is None and (choice.get("delta") or {}).get("content"):
                    first = time.perf_counter() - t0
            if chunk.get("timings"):
                final = chunk
    timings, usage = final.get("timings", {}), final.get("usage", {})
    return _figures(
        first,
        time.perf_counter() - t0,
        timings.get("prompt_n", 0),
        timings.get("prompt_ms", 0),
        timings.get("cache_n", 0),
        usage.get("completion_tokens", 0),
        timings.get("predicted_ms", 0),
    )


def chain_stream(url: str, messages: list[dict], max_tokens: int) -> dict[str, float]:
    """The same request through FallbackChain + HFInferenceBackend (what Olympus runs)."""
    from shared_utils.generation.base import Delta, GenerationOptions, Message
    from shared_utils.generation.chain import ChainResult, FallbackChain
    from shared_utils.generation.hf_inference import HFInferenceBackend

    backend = HFInferenceBackend(base_url=f"{url}/v1", name="llamacpp")
    chain = FallbackChain([backend])
    options = GenerationOptions(
        max_tokens=max_tokens, temperature=0.0, first_token_timeout_s=300, stall_timeout_s=60
    )
    msgs = [Message(m["role"], m["content"]) for m in messages]
    t0 = time.perf_counter()
    first, stats = None, {}
    for event in chain.stream(msgs, options=options):
        if first is None and isinstance(event, Delta) and event.text:
            first = time.perf_counter() - t0
        if isinstance(event, ChainResult):
            stats = event.stats
    return _figures(
        first,
        time.perf_counter() - t0,
        stats.get("prompt_eval_tokens", 0),
        stats.get("prompt_ms", 0),
        stats.get("cached_prompt_tokens", 0),
        stats.get("completion_tokens", 0),
        stats.get("generation_ms", 0),
    )


def _figures(first, total, prompt_n, prompt_ms, cache_n, gen_n, gen_ms) -> dict[str, float]:
    return {
        "ttft_s": round(first or float("nan"), 3),
        "total_s": round(total, 3),
        "prompt_tokens_evaluated": prompt_n,
        "cached_tokens": cache_n,
        "prompt_tokens_per_s": round(prompt_n / (prompt_ms / 1000), 1) if prompt_ms else 0.0,
        "generated_tokens": gen_n,
        "generation_tokens_per_s": round(gen_n / (gen_ms / 1000), 1) if gen_ms else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=1000, help="prompt size")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()
    info = begin()
    from shared_utils.llamacpp_engine import LlamaCppEngine
    from src.models.model_files import bundled_gguf

    text = manual_text()
    t0 = time.perf_counter()
    with LlamaCppEngine(bundled_gguf(), port=0, ctx=args.ctx, threads=args.threads) as engine:
        engine.wait_ready(120)
        load_s = time.perf_counter() - t0
        raw_msgs, n_prompt = build_prompt(engine.url, text, args.tokens, uuid.uuid4().hex[:8])
        chain_msgs, _ = build_prompt(engine.url, text, args.tokens, uuid.uuid4().hex[:8])
        runs = {
            "raw, cold prompt": raw_stream(engine.url, raw_msgs, args.max_tokens),
            "raw, same prompt again (cache)": raw_stream(engine.url, raw_msgs, args.max_tokens),
            "chain, cold prompt": chain_stream(engine.url, chain_msgs, args.max_tokens),
            "chain, same prompt again (cache)": chain_stream(
                engine.url, chain_msgs, args.max_tokens
            ),
        }
    cold_ratio = runs["chain, cold prompt"]["ttft_s"] / runs["raw, cold prompt"]["ttft_s"]
    cache_speedup = (
        runs["raw, cold prompt"]["ttft_s"] / runs["raw, same prompt again (cache)"]["ttft_s"]
    )
    headers = [
        "run",
        "TTFT s",
        "prompt tok evaluated",
        "cached tok",
        "prompt tok/s",
        "gen tok",
        "gen tok/s",
        "total s",
    ]
    rows = [
        [
            name,
            r["ttft_s"],
            r["prompt_tokens_evaluated"],
            r["cached_tokens"],
            r["prompt_tokens_per_s"],
            r["generated_tokens"],
            r["generation_tokens_per_s"],
            r["total_s"],
        ]
        for name, r in runs.items()
    ]
    print(
        f"\nSmolLM2-135M-Instruct Q4_1, prompt {n_prompt} tokens, ctx {args.ctx}, "
        f"model load {load_s:.2f} s\n"
    )
    print(format_table(headers, rows))
    print(
        f"\nchain TTFT / raw TTFT (cold prompt): {cold_ratio:.3f}  "
        f"(overhead {100 * (cold_ratio - 1):+.1f}%)"
    )
    print(f"prompt cache: second TTFT is {cache_speedup:.1f}x faster than the first")
    path = write_json(
        "engine",
        {
            "machine": info,
            "prompt_tokens": n_prompt,
            "ctx": args.ctx,
            "load_s": round(load_s, 2),
            "runs": runs,
            "chain_over_raw_ttft": round(cold_ratio, 3),
            "cache_ttft_speedup": round(cache_speedup, 2),
        },
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
