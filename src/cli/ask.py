"""``python -m src ask "question" [--json] [--backend NAME] [--doc ID ...]``

Streams to the terminal: the sources first, then the answer text as it arrives, then a footer
with the citations (document and page), which backend answered and why others were skipped.
With ``--json`` only the final event is printed, as one JSON object (``src.service.wire.done_to_dict``;
the schema is in docs/api.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, TextIO

from shared_utils.generation.registry import BACKENDS
from src.answer.answering import credit
from src.answer.question import check_question
from src.events import BackendSwitchEvent, DoneEvent, SourcesEvent, StatusEvent, TokenEvent
from src.service.wire import done_to_dict
from src.settings import Settings

if TYPE_CHECKING:
    from src.models.profile import Profile

SNIPPET_CHARS = 90
CHECKED = "The answer, checked against the sources:"  # before a checked answer unlike the stream


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask a question; the answer streams with citations")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--json", action="store_true", help="print only the final result as JSON")
    p.add_argument(
        "--backend",
        choices=list(BACKENDS),
        help="force one backend (the extractive one stays behind it as a safety net)",
    )
    p.add_argument(
        "--doc",
        action="append",
        metavar="ID",
        help="only search this document (its id or a unique prefix of 8+ characters)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from src.cli import service
    from src.library.doc_ids import resolve_all

    check_question(args.question)  # say so before opening any store

    # the running service's pipeline when one answers, else one opened here
    with service.pipeline(settings, lambda: _profile(settings)) as pipeline:
        # resolved here, so a short id works and an unknown one gets the CLI's hint
        doc_ids = resolve_all(pipeline.documents(), args.doc) if args.doc else None
        events = pipeline.ask(args.question, doc_ids=doc_ids, backend=args.backend)
        done = _render_json(events) if args.json else _render_stream(events, sys.stdout)
    return 0 if done is not None and not done.interrupted else 1


def _profile(settings: Settings) -> Profile:
    """The environment profile (engine, context size, deadlines)."""
    from src.models.profile import detect

    return detect(settings)


def _render_json(events) -> DoneEvent | None:
    done = None
    for event in events:
        if isinstance(event, DoneEvent):
            done = event
    if done is not None:
        print(json.dumps(done_to_dict(done), indent=2, ensure_ascii=False))
    return done


def _render_stream(events, out: TextIO) -> DoneEvent | None:
    done = None
    streamed = ""
    for event in events:
        if isinstance(event, SourcesEvent):
            _print_sources(event, out)
        elif isinstance(event, StatusEvent):
            print(f"· {event.message}", file=sys.stderr, flush=True)
        elif isinstance(event, BackendSwitchEvent):
            print(
                f"· {event.from_backend} skipped ({event.reason}); trying {event.to_backend}",
                file=sys.stderr,
                flush=True,
            )
        elif isinstance(event, TokenEvent):
            streamed += event.text
            out.write(event.text)
            out.flush()
        elif isinstance(event, DoneEvent):
            done = event
            if event.answer.startswith(streamed) and event.answer != streamed:
                out.write(
                    event.answer[len(streamed) :]
                )  # the extract that follows a model's answer
            elif not event.answer.startswith(streamed):
                # the checked answer differs from what streamed (a small model's answer after
                # the evidence, struck sentences): print it, as the UI and the API show it
                out.write(f"\n\n{CHECKED}\n{event.answer}")
            _print_footer(event, out)
    return done


def _print_sources(event: SourcesEvent, out: TextIO) -> None:
    if not event.sources:
        return
    print(f"Sources ({event.retrieval_ms:.0f} ms):", file=out)
    for i, scored in enumerate(event.sources, 1):
        c = scored.chunk
        snippet = " ".join(c.text.split())[:SNIPPET_CHARS]
        print(f"  [{i}] {c.doc_name} {c.pages}: {snippet}...", file=out)
    print(file=out, flush=True)


def _print_footer(done: DoneEvent, out: TextIO) -> None:
    print("\n", file=out)
    if done.interrupted:
        print(f"(interrupted: {done.error} - ask again to retry)", file=out)
    if done.citations:
        print("Citations:", file=out)
        for c in done.citations:
            pages = f"p. {c.page_start}"
            if c.page_end != c.page_start:
                pages = f"pp. {c.page_start}-{c.page_end}"
            note = " (inferred)" if c.inferred else ""
            print(f"  [{c.number}] {c.doc_name}, {pages}{note}", file=out)
    if done.removed_citations:
        listed = ", ".join(f"[{n}]" for n in done.removed_citations)
        print(f"Removed citations pointing at no source: {listed}", file=out)
    t = done.timings
    line = "Answered by " + credit(
        done.answered_by, backend=done.backend, model=done.model, mode=done.mode
    )
    if "first_token_ms" in t:
        if t.get("first_text_ms", t["first_token_ms"]) < t["first_token_ms"]:  # evidence first
            line += f" · first text {t['first_text_ms'] / 1000:.1f} s"
        line += f" · first token {t['first_token_ms'] / 1000:.1f} s"
    line += f" · total {t.get('total_ms', 0) / 1000:.1f} s · prompt {done.prompt_tokens} tokens"
    if t.get("tokens_per_s"):
        line += f" · {t['tokens_per_s']:.1f} tokens/s"
    print(line, file=out)
    if done.fallback_note:
        print(f"Note: {done.fallback_note}", file=out)
    if done.dropped_sources:
        print(f"{done.dropped_sources} source(s) dropped to fit the context", file=out)
    for name, why in done.skipped.items():
        print(f"Skipped {name}: {why}", file=out)
