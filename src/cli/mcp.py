"""``python -m src mcp``: the MCP server over stdio, for assistants and editors.

It answers through the running service when ``startup.py`` runs one (fast, and the stores
stay with their one owner), else it opens the library in this process. Logs go to stderr;
stdout carries the protocol only.
"""

from __future__ import annotations

import argparse

from src.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mcp", help="serve the library to MCP clients over stdio")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from src.api.mcp_server import build_mcp
    from src.cli import service
    from src.cli.ask import _profile

    with service.pipeline(settings, lambda: _profile(settings)) as pipeline:
        build_mcp(pipeline).run("stdio")
    return 0
