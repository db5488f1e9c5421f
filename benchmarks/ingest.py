"""End-to-end ingestion throughput (parse, chunk, embed, store) on real manuals: Olympus vs
the LangChain peer pipeline (PyPDFLoader + RecursiveCharacterTextSplitter + the same MiniLM
model + an in-memory vector store), in the same run, each into a fresh temp dir.

    .venv/bin/python -m benchmarks.ingest [--rounds N] [PDF ...]

Both embedding models are loaded and warmed before the clock starts (model load excluded);
library imports happen before timing too. Olympus' PDF worker process is started inside the
timed region (it is part of a real first upload). Targets: Olympus >= 10 pages/s and >= 1.5x
the peer. Writes benchmarks/results/ingest.json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import common

DEFAULT_PDFS = (Path("/usr/share/doc/bash-doc/bashref.pdf"), Path("/usr/share/doc/glpk-doc/glpk.pdf"))


def run_olympus(paths: Sequence[Path]) -> dict[str, Any]:
    per_file = []
    with common.temp_library("ingest") as library:
        library.embedder.encode_query("warm up the embedding model")
        start = time.perf_counter()
        for path in paths:
            t0 = time.perf_counter()
            result = library.ingest_file(path)
            per_file.append({"file": path.name, "seconds": round(time.perf_counter() - t0, 2),
                             "result": _describe(result)})
        seconds = time.perf_counter() - start
        docs = {d.name: d for d in library.documents()}
    pages = sum(d.pages for d in docs.values())
    chunks = sum(d.chunks for d in docs.values())
    return {"pages": pages, "chunks": chunks, "seconds": round(seconds, 2),
            "pages_per_s": round(pages / seconds, 2), "per_file": per_file}


def _describe(result: Any) -> Any:
    """Whatever ingest_file returned, as JSON-friendly data (timings if it has them)."""
    if result is None:
        return None
    for attr in ("timings", "as_dict"):
        value = getattr(result, attr, None)
        if value is not None:
            return value() if callable(value) else value
    return str(result)[:300]


def run_peer(paths: Sequence[Path], model: Any) -> dict[str, Any]:
    from benchmarks import peer

    pipeline = peer.PeerPipeline(peer.make_embeddings(model))
    pages = chunks = 0
    per_file = []
    start = time.perf_counter()
    for path in paths:
        t0 = time.perf_counter()
        p, c = pipeline.ingest(path)
        per_file.append({"file": path.name, "seconds": round(time.perf_counter() - t0, 2),
                         "pages": p, "chunks": c})
        pages, chunks = pages + p, chunks + c
    seconds = time.perf_counter() - start
    return {"pages": pages, "chunks": chunks, "seconds": round(seconds, 2),
            "pages_per_s": round(pages / seconds, 2), "per_file": per_file}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pdfs", nargs="*", type=Path, default=list(DEFAULT_PDFS))
    parser.add_argument("--rounds", type=int, default=1, help="repeat and keep each side's best")
    args = parser.parse_args(argv)
    common.offline_environment()
    common.quiet_logging()
    if missing := common.missing_pdfs(args.pdfs):
        raise SystemExit(f"missing {missing}: apt-get install bash-doc glpk-doc")

    info = common.machine_info()
    common.print_machine(info)
    # Imports and model loads are outside the timed regions of both pipelines.
    import langchain_community.document_loaders  # noqa: F401
    import langchain_core.vectorstores  # noqa: F401

    from benchmarks import peer

    peer_model = peer.load_minilm()
    peer_model.encode(["warm up the embedding model"])

    olympus_runs, peer_runs = [], []
    for i in range(args.rounds):
        olympus_runs.append(run_olympus(args.pdfs))
        print(f"round {i + 1}: olympus {olympus_runs[-1]['pages_per_s']} pages/s")
        peer_runs.append(run_peer(args.pdfs, peer_model))
        print(f"round {i + 1}: peer    {peer_runs[-1]['pages_per_s']} pages/s")
    olympus = max(olympus_runs, key=lambda r: r["pages_per_s"])
    peer_best = max(peer_runs, key=lambda r: r["pages_per_s"])
    ratio = round(olympus["pages_per_s"] / peer_best["pages_per_s"], 2)

    rows = [[name, r["pages"], r["chunks"], r["seconds"], r["pages_per_s"]]
            for name, r in (("olympus", olympus), ("peer (LangChain)", peer_best))]
    print()
    print(common.format_table(["pipeline", "pages", "chunks", "seconds", "pages/s"], rows))
    print(f"\nratio olympus/peer: {ratio}x  (targets: >= 10 pages/s and >= 1.5x)")
    for name, r in (("olympus", olympus), ("peer", peer_best)):
        for f in r["per_file"]:
            print(f"  {name:8s} {f['file']}: {f['seconds']} s {f.get('result') or ''}")
    path = common.write_json("ingest", {
        "machine": info, "files": [p.name for p in args.pdfs], "rounds": args.rounds,
        "olympus": olympus, "peer": peer_best, "ratio": ratio,
        "all_rounds": {"olympus": olympus_runs, "peer": peer_runs},
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
