"""Pick the keyword (BM25) index by measurement: Olympus' BM25Index vs SQLite FTS5 vs bm25s.

Chunks are drawn from the word distribution of a real manual (bash reference), so term
frequencies look like real documentation. For each size it reports: build time, the cost of
adding one more 200-chunk document (BM25Index, FTS5: incremental insert; bm25s: full rebuild,
since it has no incremental add), query latency p50/p95 for user-like questions, and size on disk.

    .venv/bin/python -m benchmarks.keyword_index_choice --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from shared_utils.retrieval.bm25 import BM25Index, Tokenizer
from shared_utils.text import STOPWORDS
from shared_utils.types import Chunk

MANUAL = Path("/usr/share/doc/bash-doc/bashref.pdf")
QUERIES = [
    "how do I make a variable available to child processes",
    "what does the set -e option do when a command fails",
    "expand a parameter with a default value if unset",
    "difference between single and double quotes",
    "run a command in the background and wait for it",
    "redirect standard error to a file",
    "how are aliases expanded in non-interactive shells",
    "pattern matching with extended globbing",
    "read lines from a file into an array",
    "what is the exit status of a pipeline",
    "history expansion event designators",
    "arithmetic evaluation of integer expressions",
]


def vocabulary() -> tuple[list[str], np.ndarray]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(MANUAL))
    words: Counter[str] = Counter()
    for i in range(min(len(pdf), 120)):
        words.update(
            w.lower() for w in pdf[i].get_textpage().get_text_range().split() if w.isalpha()
        )
    vocab = [w for w, _ in words.most_common(20000)]
    freq = np.array([words[w] for w in vocab], dtype=float)
    return vocab, freq / freq.sum()


def synthetic_chunks(n: int, seed: int = 0, words_per_chunk: int = 150) -> list[Chunk]:
    vocab, p = vocabulary()
    rng = np.random.default_rng(seed)
    draws = rng.choice(len(vocab), size=(n, words_per_chunk), p=p)
    out = []
    for i, row in enumerate(draws):
        doc = f"doc{i // 200:05d}"
        out.append(
            Chunk(
                id=f"{doc}:{i % 200:06d}",
                doc_id=doc,
                ordinal=i % 200,
                text=" ".join(vocab[j] for j in row),
                page_start=1,
                page_end=1,
            )
        )
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


class FTS5:
    """The FTS5 candidate: porter tokenizer, quoted OR-ed terms, ORDER BY bm25()."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(text, chunk_id UNINDEXED, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        self.tok = Tokenizer()

    def add(self, chunks: list[Chunk]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT INTO fts (text, chunk_id) VALUES (?, ?)", [(c.text, c.id) for c in chunks]
        )
        self.db.execute("COMMIT")

    def search(self, text: str, k: int) -> list:
        terms = [w for w in text.lower().split() if w not in STOPWORDS]
        expr = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        return self.db.execute(
            "SELECT chunk_id, bm25(fts) AS s FROM fts WHERE fts MATCH ? ORDER BY s LIMIT ?",
            (expr, k),
        ).fetchall()

    def close(self) -> None:
        self.db.close()


def bench_incremental(cls, chunks: list[Chunk], extra: list[Chunk], tmp: Path) -> dict:
    idx = cls(tmp / "kw.sqlite3")
    t = time.perf_counter()
    for i in range(0, len(chunks), 2000):
        idx.add(chunks[i : i + 2000])
    build = time.perf_counter() - t
    t = time.perf_counter()
    idx.add(extra)
    add = time.perf_counter() - t
    lat = []
    for _ in range(5):
        for q in QUERIES:
            t = time.perf_counter()
            idx.search(q, 30)
            lat.append((time.perf_counter() - t) * 1000)
    idx.close()
    size = sum(f.stat().st_size for f in tmp.glob("kw.sqlite3*"))
    return {
        "build_s": build,
        "add_doc_s": add,
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
        "disk_mb": size / 1e6,
    }


def bench_bm25s(chunks: list[Chunk], extra: list[Chunk], tmp: Path) -> dict:
    import bm25s

    def build(cs: list[Chunk]):
        tokens = bm25s.tokenize(
            [c.text for c in cs], stopwords=sorted(STOPWORDS), show_progress=False
        )
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return retriever

    t = time.perf_counter()
    retriever = build(chunks)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    retriever = build(chunks + extra)  # no incremental add: rebuild
    retriever.save(str(tmp / "bm25s"))
    add = time.perf_counter() - t
    lat = []
    for _ in range(5):
        for q in QUERIES:
            t = time.perf_counter()
            qt = bm25s.tokenize([q], stopwords=sorted(STOPWORDS), show_progress=False)
            retriever.retrieve(qt, k=30, show_progress=False)
            lat.append((time.perf_counter() - t) * 1000)
    size = sum(f.stat().st_size for f in (tmp / "bm25s").rglob("*") if f.is_file())
    return {
        "build_s": build_s,
        "add_doc_s": add,
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
        "disk_mb": size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(
        f"{'index':10} {'chunks':>7} {'build s':>8} {'add 1 doc s':>11} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'disk MB':>8}"
    )
    for n in args.sizes:
        chunks = synthetic_chunks(n + 200)
        base, extra = chunks[:n], chunks[n:]
        candidates = (
            ("BM25Index", lambda *a: bench_incremental(BM25Index, *a)),
            ("fts5", lambda *a: bench_incremental(FTS5, *a)),
            ("bm25s", bench_bm25s),
        )
        for name, fn in candidates:
            tmp = Path(tempfile.mkdtemp(prefix=f"kw-{name}-"))
            try:
                r = fn(base, extra, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            print(
                f"{name:10} {n:>7} {r['build_s']:>8.2f} {r['add_doc_s']:>11.3f} "
                f"{r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['disk_mb']:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
