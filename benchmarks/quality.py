"""Retrieval quality on the labelled set: hit@1, hit@5, MRR@10 for Olympus dense only, BM25
only, hybrid (the default search path), and the LangChain/Open WebUI-style peer pipeline.

A hit is a retrieved chunk of the question's document whose page span overlaps a gold page.

    .venv/bin/python -m benchmarks.quality [--k 10] [--show-misses N] [--no-peer] [--no-fp32]
        [--rrf-k K] [--dense-weight W] [--bm25-weight W]

Olympus runs with the configured embeddings (int8 on a CPU) and, unless ``--no-fp32``, again
with fp32 embeddings, to show what int8 costs.

Writes benchmarks/results/quality.json. Misses of the hybrid leg are printed with what was
retrieved and where the gold pages ranked in each leg, to find the cause (parsing, chunking,
fusion) rather than tune the labelled set.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import common

Hit = tuple[str, int, int, str]  # (file name, first page, last page, text)


@dataclass
class LegResult:
    name: str
    ranks: dict[str, int | None]  # question id -> 1-based rank of the first hit (None: no hit in k)
    top: dict[str, list[Hit]]
    seconds: float

    def metrics(self) -> dict[str, float]:
        ranks = list(self.ranks.values())
        n = len(ranks)
        return {
            "hit@1": round(sum(r == 1 for r in ranks) / n, 3),
            "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
            "mrr@10": round(sum(1.0 / r for r in ranks if r is not None and r <= 10) / n, 3),
            "ms_per_query": round(1000 * self.seconds / n, 1),
        }


def gold_targets(question: dict) -> dict[str, list[int]]:
    """Document -> gold pages: the question's own document plus ``also_gold`` pages of others."""
    targets = {question["document"]: list(question["gold_pages"])}
    for extra in question.get("also_gold", []):
        targets.setdefault(extra["document"], []).extend(extra["pages"])
    return targets


def first_hit(hits: Sequence[Hit], targets: dict[str, Sequence[int]]) -> int | None:
    """1-based rank of the first hit whose page span overlaps a gold page of its document.

    >>> first_hit([("a.pdf", 1, 2, ""), ("b.pdf", 4, 5, "")], {"b.pdf": [5]})
    2
    >>> first_hit([("b.pdf", 6, 7, "")], {"b.pdf": [5]}) is None
    True
    >>> first_hit([("a.pdf", 3, 3, "")], {"b.pdf": [5], "a.pdf": [3]})
    1
    """
    for rank, (file, start, end, _) in enumerate(hits, start=1):
        if any(start <= g <= end for g in targets.get(file, ())):
            return rank
    return None


def run_leg(name: str, questions: list[dict], search: Callable[[str], list[Hit]]) -> LegResult:
    ranks: dict[str, int | None] = {}
    top: dict[str, list[Hit]] = {}
    watch = common.Stopwatch()
    for q in questions:
        with watch:
            hits = search(q["question"])
        ranks[q["id"]] = first_hit(hits, gold_targets(q))
        top[q["id"]] = hits
    return LegResult(name, ranks, top, watch.seconds)


# --- Olympus ---------------------------------------------------------------------------------


def olympus_legs(library: Any, k: int) -> dict[str, Callable[[str], list[Hit]]]:
    from shared_utils.retrieval.base import Query

    names = {d.id: d.name for d in library.documents()}

    def hits(scored: Sequence[Any]) -> list[Hit]:
        out = []
        for sc in scored[:k]:
            c = sc.chunk
            out.append(
                (c.doc_name or names.get(c.doc_id, c.doc_id), c.page_start, c.page_end, c.text)
            )
        return out

    retriever = library.retriever
    return {
        "olympus dense": lambda text: hits(retriever.dense(Query(text=text, k=k))),
        "olympus bm25": lambda text: hits(retriever.keyword(Query(text=text, k=k))),
        "olympus hybrid": lambda text: hits(library.search(text, k=k).results),
    }


def ingest_olympus(library: Any, paths: Sequence[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        library.ingest_file(path)
    return time.perf_counter() - start


# --- peer ------------------------------------------------------------------------------------


def peer_leg(paths: Sequence[Path], k: int) -> tuple[Callable[[str], list[Hit]], dict[str, Any]]:
    from benchmarks import peer

    model = peer.load_minilm()
    pipeline = peer.PeerPipeline(peer.make_embeddings(model))
    stats: dict[str, Any] = {"chunks": 0, "pages": 0}
    for path in paths:
        pages, chunks = pipeline.ingest(path)
        stats["pages"] += pages
        stats["chunks"] += chunks
    # The trap the peer falls into: chunks longer than the model's window are silently cut.
    texts = pipeline.chunk_texts
    window = int(getattr(model, "max_seq_length", 256))
    if texts:
        lengths = [len(ids) for ids in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
        stats["truncated_chunks"] = sum(n > window for n in lengths)
        stats["window_tokens"] = window

    def search(text: str) -> list[Hit]:
        return [(h.file, h.page, h.page, h.text) for h in pipeline.search(text, k)]

    return search, stats


# --- diagnostics -----------------------------------------------------------------------------

_GLUED = re.compile(r"[A-Za-z]{25,}")


def text_artefacts(texts: Sequence[str]) -> dict[str, float]:
    """Share of chunks with glued words (25+ letters), control characters, or broken hyphens."""
    n = max(1, len(texts))
    return {
        "glued_words": round(sum(bool(_GLUED.search(t)) for t in texts) / n, 3),
        "control_chars": round(
            sum(bool(re.search(r"[\x00-\x08\x0b-\x1f\ufffe]", t)) for t in texts) / n, 3
        ),
        "hyphen_breaks": round(sum(bool(re.search(r"[a-z]- [a-z]", t)) for t in texts) / n, 3),
    }


def print_misses(
    questions: list[dict], legs: dict[str, LegResult], leg: str, limit: int
) -> list[dict]:
    misses = [q for q in questions if not (legs[leg].ranks[q["id"]] or 99) <= 5]
    out = []
    if misses:
        print(f"\n{leg}: {len(misses)} question(s) without a hit in the top 5")
    for q in misses[:limit]:
        others = {name: legs[name].ranks[q["id"]] for name in legs if name != leg}
        print(f"- {q['id']} {gold_targets(q)} {q['question']}")
        print(f"    rank in {leg}: {legs[leg].ranks[q['id']]}; other legs: {others}")
        for file, start, end, text in legs[leg].top[q["id"]][:5]:
            snippet = re.sub(r"\s+", " ", text)[:110]
            print(f"    got {file} pp.{start}-{end}: {snippet}")
        out.append({"id": q["id"], "ranks": {leg: legs[leg].ranks[q["id"]], **others}})
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--show-misses", type=int, default=20)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument(
        "--no-fp32",
        action="store_true",
        help="skip the fp32-embedding legs (the default on a CPU is int8)",
    )
    parser.add_argument("--rrf-k", type=int, help="override OLYMPUS_RRF_K (to explore fusion)")
    parser.add_argument("--dense-weight", type=float)
    parser.add_argument("--bm25-weight", type=float)
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in (
            ("rrf_k", args.rrf_k),
            ("dense_weight", args.dense_weight),
            ("bm25_weight", args.bm25_weight),
        )
        if value is not None
    }
    common.offline_environment()
    common.quiet_logging()

    labelled = common.load_labelled_set()
    paths = [Path(d["path"]) for d in labelled["documents"]]
    if missing := common.missing_pdfs(paths):
        raise SystemExit(f"missing manuals {missing}: apt-get install systemtap-doc nut-doc")
    questions = labelled["questions"]
    info = common.machine_info()
    common.print_machine(info)
    print(f"labelled set: {len(questions)} questions over {len(paths)} documents, k={args.k}")

    legs: dict[str, LegResult] = {}
    extra: dict[str, Any] = {}
    with common.temp_library("quality", **overrides) as library:
        extra["olympus_ingest_s"] = round(ingest_olympus(library, paths), 1)
        for name, search in olympus_legs(library, args.k).items():
            legs[name] = run_leg(name, questions, search)
        chunk_texts = [h[3] for r in legs.values() for hits in r.top.values() for h in hits]
        extra["olympus_artefacts_in_retrieved"] = text_artefacts(chunk_texts)
        extra["olympus_embedding_precision"] = library.embedder.precision
    if not args.no_fp32 and extra["olympus_embedding_precision"] != "fp32":
        # the same pipeline with full-precision embeddings: what int8 costs in quality
        with common.temp_library(
            "quality-fp32", embedding_precision="fp32", **overrides
        ) as library:
            extra["olympus_fp32_ingest_s"] = round(ingest_olympus(library, paths), 1)
            for name, search in olympus_legs(library, args.k).items():
                if name != "olympus bm25":  # BM25 does not depend on the embeddings
                    legs[f"{name} (fp32 embeddings)"] = run_leg(name, questions, search)
    if not args.no_peer:
        search, stats = peer_leg(paths, args.k)
        legs["peer (LangChain dense)"] = run_leg("peer", questions, search)
        extra["peer"] = stats
        peer_texts = [h[3] for hits in legs["peer (LangChain dense)"].top.values() for h in hits]
        extra["peer_artefacts_in_retrieved"] = text_artefacts(peer_texts)

    rows = [[name, *r.metrics().values()] for name, r in legs.items()]
    print()
    print(common.format_table(["pipeline", "hit@1", "hit@5", "MRR@10", "ms/query"], rows))
    misses = print_misses(questions, legs, "olympus hybrid", args.show_misses)
    print(f"\nextra: {extra}")

    per_doc: dict[str, dict[str, float]] = {}
    for doc in {q["document"] for q in questions}:
        qs = [q for q in questions if q["document"] == doc]
        for name, r in legs.items():
            hit5 = sum((r.ranks[q["id"]] or 99) <= 5 for q in qs) / len(qs)
            per_doc.setdefault(doc, {})[name] = round(hit5, 3)
    print("\nhit@5 per document:")
    print(
        common.format_table(
            ["document", *legs], [[d, *v.values()] for d, v in sorted(per_doc.items())]
        )
    )

    path = common.write_json(
        "quality",
        {
            "machine": info,
            "k": args.k,
            "settings_overrides": overrides,
            "questions": len(questions),
            "metrics": {name: r.metrics() for name, r in legs.items()},
            "hit@5_per_document": per_doc,
            "ranks": {name: r.ranks for name, r in legs.items()},
            "hybrid_misses": misses,
            "extra": extra,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
