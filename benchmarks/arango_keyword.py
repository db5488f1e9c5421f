"""Keyword leg on ArangoDB: ArangoSearch BM25 (text_en) vs the embedded BM25 index.

Quality (hit@1, hit@5, MRR@10 on the labelled set) and latency of each keyword leg alone, and of
hybrid retrieval with each, in the same run. Needs a real ArangoDB: set OLYMPUS_ARANGO_URL
(+ OLYMPUS_ARANGO_PASSWORD). Without one it says so and exits 0 (nothing to measure here).

    OLYMPUS_ARANGO_URL=http://127.0.0.1:8529 .venv/bin/python -m benchmarks.arango_keyword
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from benchmarks import common
from benchmarks.quality import ingest_olympus, olympus_legs, run_leg


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    url = os.environ.get("OLYMPUS_ARANGO_URL", "")
    if not url:
        print("skipped: no ArangoDB (set OLYMPUS_ARANGO_URL to compare the keyword legs)")
        return
    info = common.begin()
    labelled = common.load_labelled_set()
    paths = [Path(d["path"]) for d in labelled["documents"]]
    questions = labelled["questions"]
    password = os.environ.get("OLYMPUS_ARANGO_PASSWORD", "")
    rows, results = [], {}
    for keyword_index in ("bm25", "arango"):
        db = f"olympus_bench_{uuid.uuid4().hex[:8]}"
        with common.temp_library(
            keyword_index,
            arango_url=url,
            arango_password=password,
            arango_db=db,
            keyword_index=keyword_index,
        ) as library:
            ingest_olympus(library, paths)
            time.sleep(2)  # ArangoSearch commits its view about once a second
            legs = olympus_legs(library, args.k)
            for leg in ("olympus bm25", "olympus hybrid"):
                result = run_leg(f"{leg} ({keyword_index})", questions, legs[leg])
                metrics = result.metrics()
                results[result.name] = metrics
                rows.append([result.name, *metrics.values()])
        from arango import ArangoClient

        ArangoClient(hosts=url).db("_system", "root", password).delete_database(
            db, ignore_missing=True
        )
    print(common.format_table(["leg", "hit@1", "hit@5", "MRR@10", "ms/query"], rows))
    common.write_json("arango_keyword", {"machine": info, "k": args.k, "results": results})


if __name__ == "__main__":
    main()
