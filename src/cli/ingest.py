"""``python -m src ingest PATH...``: add PDF files or folders (recursively) to the library.

A progress bar per file on stderr; one line per file on stdout (pages, chunks, time, or the
error and how to fix it). Exit 0 when every file was added or already there, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from pathlib import Path

from shared_utils.errors import OlympusError
from shared_utils.types import Progress
from src.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="add PDF files or folders to the library")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="PDF files or folders")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


class ProgressBar:
    """A tqdm bar on stderr that follows one file's stages (parse, chunk, embed, store)."""

    def __init__(self, name: str, enabled: bool) -> None:
        from tqdm import tqdm

        self.name = name
        self.bar = tqdm(
            total=1,
            desc=name,
            file=sys.stderr,
            leave=False,
            disable=not enabled,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}",
        )

    def __call__(self, p: Progress) -> None:
        total = max(p.total, 1)
        if self.bar.total != total:
            self.bar.reset(total=total)
        self.bar.set_description_str(f"{self.name[:40]} {p.stage}", refresh=False)
        self.bar.n = min(p.done, total)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from src.cli import service
    from src.library.ingest import safe_name
    from src.library.library import expand_paths

    failed = added = skipped = 0
    with service.library(settings) as library:  # the running service's, when one answers
        load_embedder_meanwhile(library)
        paths = expand_paths(args.paths)
        if not paths:
            print("No PDF files found in the given folders.", file=sys.stderr)
            return 1
        for path in paths:
            try:
                label = safe_name(path.name)
            except OlympusError:
                label = repr(path.name)
            # no bar between JSON log lines: a log collector would get it glued into a record
            bar = ProgressBar(
                label, enabled=not args.no_progress and settings.log_format_resolved == "console"
            )
            started = time.perf_counter()
            try:
                r = library.ingest_file(path, progress=bar)
            except OlympusError as exc:
                failed += 1
                print(f"FAILED  {path}: {_describe(exc)}", flush=True)
                continue
            finally:
                bar.close()
            if r.status == "duplicate":
                skipped += 1
                print(f"skipped {path}: {r.message}", flush=True)
            else:
                added += 1
                secs = r.timings.get("total_ms", 0) / 1000 or time.perf_counter() - started
                rate = r.doc.pages / secs if secs else 0
                print(
                    f"added   {path}: {r.doc.pages} pages, {r.doc.chunks} chunks in {secs:.1f} s "
                    f"({rate:.1f} pages/s) id {r.doc.id[:12]}",
                    flush=True,
                )
    print(f"{added} added, {skipped} already there, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def load_embedder_meanwhile(library: object) -> None:
    """A local library's embedding model loads in the background while the first PDF is read
    and chunked (the model's load is ~5 s of a CLI run on 2 cores); a service has it loaded."""
    embedder = getattr(library, "embedder", None)
    if embedder is None or not hasattr(embedder, "load"):
        return

    def load() -> None:
        with contextlib.suppress(OlympusError):  # the first embedding raises it again, hinted
            embedder.load()

    threading.Thread(target=load, name="embedder-load", daemon=True).start()


def _describe(exc: Exception) -> str:
    if isinstance(exc, OlympusError):
        return f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
    return f"{type(exc).__name__}: {exc}"
