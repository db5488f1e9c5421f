"""``python -m src docs list [--json]`` and ``python -m src docs rm ID`` (a unique id prefix works).

``docs list --json`` prints a JSON array of documents as the API lists them (docs/api.md,
``src/schema/library.py:Document``), newest first.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from shared_utils.types import DocumentRecord
from src.library.doc_ids import resolve as resolve_doc_id
from src.service.wire import document_to_dict
from src.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("docs", help="list or remove documents")
    docs_sub = p.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    ls = docs_sub.add_parser("list", help="list documents (name, pages, chunks, size, added, id)")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ls.set_defaults(func=run_list)
    rm = docs_sub.add_parser("rm", help="remove a document from every store")
    rm.add_argument("id", help="document id, or a unique prefix of it")
    rm.set_defaults(func=run_rm)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from src.cli import service

    with service.library(settings) as library:  # the running service's, when one answers
        docs = library.documents()
        stored = {d.id: library.originals.stored_bytes(d.id) for d in docs}
    if args.json:
        listed = [document_to_dict(d, stored[d.id]) for d in docs]
        json.dump(listed, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    if not docs:
        print("No documents yet. Add some with: python -m src ingest PATH...")
        return 0
    rows = [
        (
            d.name,
            str(d.pages),
            str(d.chunks),
            human_size(stored[d.id] or d.size_bytes),
            datetime.fromtimestamp(d.added_at).strftime("%Y-%m-%d %H:%M"),
            d.id[:12],
        )
        for d in docs
    ]
    header = ("NAME", "PAGES", "CHUNKS", "SIZE", "ADDED", "ID")
    widths = [min(48, max(len(r[i]) for r in [header, *rows])) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            (c if len(c) <= widths[i] else c[: widths[i] - 1] + "…").ljust(widths[i])
            if i == 0
            else c.rjust(widths[i])
            if i in (1, 2, 3)
            else c.ljust(widths[i])
            for i, c in enumerate(row)
        ]
        print("  ".join(cells).rstrip())
    _reading_notes(docs)
    return 0


def _reading_notes(docs: list[DocumentRecord]) -> None:
    """Under the table: documents whose scanned pages are still being read (searchable
    already) or could not be read."""
    from shared_utils.documents.triage import ParseReport

    for d in docs:
        report = ParseReport.from_dict(d.parse_report)
        if report.ocr_pending or report.failed:
            print(f"  {d.name}: {report.summary()}")


def run_rm(args: argparse.Namespace, settings: Settings) -> int:
    from src.cli import service

    with service.library(settings) as library:
        doc = resolve_doc_id(library.documents(), args.id)
        library.delete_document(doc.id)
    print(f"Removed {doc.name} ({doc.id[:12]}): {doc.pages} pages, {doc.chunks} chunks")
    return 0
