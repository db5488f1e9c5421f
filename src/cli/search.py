"""``python -m src search "query" [--k N] [--json] [--doc ID ...]``: hybrid search, no LLM.

``--json`` prints one object in the schema of docs/api.md (``src/service/wire.py``, shared with the
API and ``ask --json``)::

    {"query": str,
     "timings": {"embed_ms", "dense_ms", "bm25_ms", "fuse_ms", "total_ms"},
     "results": [passage, ...]}   # passage: number, doc_id, document, page_start, page_end, ...
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from src.schema.requests import MAX_K  # the one bound of every search (API, MCP, CLI)
from src.service.wire import search_to_dict
from src.settings import Settings

SNIPPET_CHARS = 320


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="find the passages that best match a query")
    p.add_argument("query", help="what to look for, in quotes")
    p.add_argument(
        "--k", type=int, default=None, metavar="N", help=f"number of results (1 to {MAX_K})"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--doc",
        action="append",
        metavar="ID",
        help="only search this document (id or unique prefix; repeatable)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from src.cli import service
    from src.library.doc_ids import resolve_all

    if args.k is not None and not 1 <= args.k <= MAX_K:
        print(f"error: --k must be from 1 to {MAX_K}", file=sys.stderr)
        return 2
    with service.library(settings) as library:  # the running service's, when one answers
        doc_ids = resolve_all(library.documents(), args.doc) if args.doc else None
        result = library.search(args.query, k=args.k, doc_ids=doc_ids)
    if args.json:
        json.dump(search_to_dict(result), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    if not result.results:
        print("No matching passages. Add documents with: python -m src ingest PATH...")
    for i, hit in enumerate(result.results, start=1):
        c = hit.chunk
        legs = ", ".join(f"{leg} #{r}" for leg, r in sorted(hit.ranks.items()))
        print(f"{i}. {c.doc_name}, {c.pages}  (score {hit.score:.4f}; {legs}; id {c.doc_id[:12]})")
        snippet = " ".join(c.text.split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
        print(textwrap.indent(textwrap.fill(snippet, width=96), "   "))
    t = result.timings
    print(
        f"\n{len(result.results)} result(s) in {t.get('total_ms', 0):.0f} ms (embed "
        f"{t.get('embed_ms', 0):.0f}, dense {t.get('dense_ms', 0):.0f}, bm25 "
        f"{t.get('bm25_ms', 0):.1f}, fuse {t.get('fuse_ms', 0):.1f})",
        file=sys.stderr,
    )
    return 0
