"""CLI dispatcher: wires settings and logging, runs one command, maps errors to exit codes.

Exit codes: 0 ok, 1 some inputs failed (e.g. one bad PDF among many), 2 a typed Olympus
error (the message says how to fix it), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import structlog

from shared_utils.errors import OlympusError
from shared_utils.logging_setup import configure_logging
from src import __version__
from src.settings import load_settings, private_files

# Command modules under src/cli/, in help order. Each defines register(subparsers), which
# adds a parser with set_defaults(func=run) where run(args, settings) -> int.
COMMANDS = ("ingest", "search", "docs", "ask", "models", "doctor", "engine", "keys", "mcp")

logger = structlog.get_logger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m src", description="Olympus: private question answering over your PDFs."
    )
    parser.add_argument("--version", action="version", version=f"olympus {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"src.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
        private_files()  # data files 0600, folders 0700
        configure_logging(
            settings.log_format_resolved,
            "DEBUG" if args.verbose else settings.log_level,
            secrets=settings.secret_values(),
        )
        return int(args.func(args, settings) or 0)
    except OlympusError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
