"""End-to-end ingestion throughput (parse, chunk, embed, store) on real manuals: Olympus vs
the LangChain peer pipeline (PyPDFLoader + RecursiveCharacterTextSplitter + the same MiniLM
model + an in-memory vector store), in the same run, each into a fresh temp dir.

    .venv/bin/python -m benchmarks.ingest [--rounds N] [PDF ...]
    .venv/bin/python -m benchmarks.ingest --processes [--rounds N] [PDF ...]

``--processes``: what a person running the CLI waits for. Olympus is ``python -m src ingest``
as a whole process on a fresh data dir (start-up, imports, the embedder load and Milvus Lite
included) and the peer ``python -m benchmarks.peer`` (its imports and model load included),
alternated in the same run. Olympus' own start-up is split out from its log: the time to the
first file's parse (imports, settings, opening the stores) and the embedder load.

Both embedding models are loaded and warmed before the clock starts (model load excluded);
library imports happen before timing too. Olympus' PDF worker process is started inside the
timed region (it is part of a real first upload). Targets: Olympus >= 10 pages/s and >= 1.5x
the peer. Writes benchmarks/results/ingest.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import common

DEFAULT_PDFS = (
    Path("/usr/share/doc/bash-doc/bashref.pdf"),
    Path("/usr/share/doc/glpk-doc/glpk.pdf"),
)


def run_olympus(paths: Sequence[Path]) -> dict[str, Any]:
    per_file = []
    with common.temp_library("ingest") as library:
        library.embedder.encode_query("warm up the embedding model")
        start = time.perf_counter()
        for path in paths:
            t0 = time.perf_counter()
            result = library.ingest_file(path)
            per_file.append(
                {
                    "file": path.name,
                    "seconds": round(time.perf_counter() - t0, 2),
                    "result": _describe(result),
                }
            )
        seconds = time.perf_counter() - start
        docs = {d.name: d for d in library.documents()}
    pages = sum(d.pages for d in docs.values())
    chunks = sum(d.chunks for d in docs.values())
    return {
        "pages": pages,
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2),
        "per_file": per_file,
    }


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
        per_file.append(
            {
                "file": path.name,
                "seconds": round(time.perf_counter() - t0, 2),
                "pages": p,
                "chunks": c,
            }
        )
        pages, chunks = pages + p, chunks + c
    seconds = time.perf_counter() - start
    return {
        "pages": pages,
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2),
        "per_file": per_file,
    }


def run_process(command: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    """Wall seconds of ``command`` as a whole process, its output (stdout + stderr) and the
    CPU seconds it and its children used (a figure a loaded machine moves far less)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr, cpu


def olympus_process(paths: Sequence[Path]) -> dict[str, Any]:
    """``python -m src ingest`` on a fresh data dir, start-up included; pages from its lines."""
    with common.temp_dir("ingest-cli") as data_dir:
        env = {
            **os.environ,
            "OLYMPUS_DATA_DIR": str(data_dir),
            "OLYMPUS_LOG_FORMAT": "json",
            "OLYMPUS_LOG_LEVEL": "info",
        }
        seconds, out, cpu = run_process(
            [sys.executable, "-m", "src", "ingest", "--no-progress", *map(str, paths)], env
        )
    pages = sum(int(m) for m in re.findall(r"^added .*?: (\d+) pages", out, re.MULTILINE))
    chunks = sum(int(m) for m in re.findall(r"^added .*?pages, (\d+) chunks", out, re.MULTILINE))
    in_files = sum(float(m) for m in re.findall(r"^added .*? in ([\d.]+) s", out, re.MULTILINE))
    return {
        "pages": pages,
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2) if seconds else 0.0,
        "startup_s": round(seconds - in_files, 2),
        "cpu_s": round(cpu, 2),
        "log_tail": _startup_lines(out),
    }


def _startup_lines(out: str) -> list[str]:
    """The start-up events of the log (library opened, embedder loaded), for the report."""
    keep = ("library.opened", "embed", "milvus", "pdf.parsed")
    return [line[:240] for line in out.splitlines() if any(k in line for k in keep)][:12]


def peer_process(paths: Sequence[Path]) -> dict[str, Any]:
    seconds, out, cpu = run_process(
        [sys.executable, "-m", "benchmarks.peer", *map(str, paths)], dict(os.environ)
    )
    found = re.search(r"peer: (\d+) pages, (\d+) chunks; model loaded in ([\d.]+) s", out)
    pages, chunks = (int(found[1]), int(found[2])) if found else (0, 0)
    return {
        "pages": pages,
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2) if seconds else 0.0,
        "model_load_s": float(found[3]) if found else None,
        "cpu_s": round(cpu, 2),
    }


def main_processes(paths: Sequence[Path], rounds: int, info: dict[str, Any]) -> None:
    """Both pipelines as whole processes, alternated, ``rounds`` times; best of each."""
    olympus_runs, peer_runs = [], []
    for i in range(rounds):
        olympus_runs.append(olympus_process(paths))
        print(
            f"round {i + 1}: olympus CLI {olympus_runs[-1]['pages_per_s']} pages/s "
            f"({olympus_runs[-1]['seconds']} s, CPU {olympus_runs[-1]['cpu_s']} s; outside "
            f"the files {olympus_runs[-1]['startup_s']} s) load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        peer_runs.append(peer_process(paths))
        print(
            f"round {i + 1}: peer process {peer_runs[-1]['pages_per_s']} pages/s "
            f"({peer_runs[-1]['seconds']} s, CPU {peer_runs[-1]['cpu_s']} s, model load "
            f"{peer_runs[-1]['model_load_s']} s) load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    olympus = max(olympus_runs, key=lambda r: r["pages_per_s"])
    peer_best = max(peer_runs, key=lambda r: r["pages_per_s"])
    ratio = round(olympus["pages_per_s"] / peer_best["pages_per_s"], 2)
    print()
    print(
        common.format_table(
            ["process", "pages", "chunks", "seconds", "CPU s", "pages/s"],
            [
                [name, r["pages"], r["chunks"], r["seconds"], r["cpu_s"], r["pages_per_s"]]
                for name, r in (("python -m src ingest", olympus), ("peer (LangChain)", peer_best))
            ],
        )
    )
    print(f"\nratio olympus/peer: {ratio}x  (goals: >= 10 pages/s and >= 2x, start-up included)")
    for line in olympus["log_tail"]:
        print(f"  {line}")
    path = common.write_json(
        "ingest_processes",
        {
            "machine": info,
            "files": [p.name for p in paths],
            "rounds": rounds,
            "olympus": olympus,
            "peer": peer_best,
            "ratio": ratio,
            "load": os.getloadavg(),
            "all_rounds": {"olympus": olympus_runs, "peer": peer_runs},
        },
    )
    print(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pdfs", nargs="*", type=Path, default=list(DEFAULT_PDFS))
    parser.add_argument("--rounds", type=int, default=1, help="repeat and keep each side's best")
    parser.add_argument(
        "--processes",
        action="store_true",
        help="whole processes, start-up included: the CLI against the peer",
    )
    args = parser.parse_args(argv)
    common.offline_environment()
    common.quiet_logging()
    if missing := common.missing_pdfs(args.pdfs):
        raise SystemExit(f"missing {missing}: apt-get install bash-doc glpk-doc")

    info = common.machine_info()
    common.print_machine(info)
    if args.processes:
        main_processes(args.pdfs, args.rounds, info)
        return
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

    rows = [
        [name, r["pages"], r["chunks"], r["seconds"], r["pages_per_s"]]
        for name, r in (("olympus", olympus), ("peer (LangChain)", peer_best))
    ]
    print()
    print(common.format_table(["pipeline", "pages", "chunks", "seconds", "pages/s"], rows))
    print(f"\nratio olympus/peer: {ratio}x  (targets: >= 10 pages/s and >= 1.5x)")
    for name, r in (("olympus", olympus), ("peer", peer_best)):
        for f in r["per_file"]:
            print(f"  {name:8s} {f['file']}: {f['seconds']} s {f.get('result') or ''}")
    path = common.write_json(
        "ingest",
        {
            "machine": info,
            "files": [p.name for p in args.pdfs],
            "rounds": args.rounds,
            "olympus": olympus,
            "peer": peer_best,
            "ratio": ratio,
            "all_rounds": {"olympus": olympus_runs, "peer": peer_runs},
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
