"""``python -m src keys create NAME | list | revoke ID``: API keys for the service API.

Whoever can run this can read the data dir, which is what makes them an admin here. A new
key is printed once; only its hash is kept (``api_keys.json``, 0600). A revoked key is
refused from the next request on. ``--scope`` says what the key may do (read: search, ask,
list; write: also upload and delete; admin: also keys and models); keys made before scopes
work as write.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime

from src.access.keys import DEFAULT_SCOPE, SCOPES
from src.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="create, list or revoke API keys (OpenAI API, MCP)")
    keys_sub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = keys_sub.add_parser("create", help="make a key (printed once)")
    create.add_argument("name", help="who or what uses it, e.g. laptop")
    create.add_argument(
        "--scope",
        choices=SCOPES,
        default=DEFAULT_SCOPE,
        help="read: search, ask, list; write: also upload and delete; "
        "admin: also keys and models (default: %(default)s)",
    )
    create.set_defaults(func=run_create)
    ls = keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ls.set_defaults(func=run_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id", help="the key's id (from `keys list`)")
    revoke.set_defaults(func=run_revoke)


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    from src.access.keys import KeyStore

    key, secret = KeyStore(settings.data_dir).create(args.name, args.scope)
    print(secret)
    print(
        f"API key {key.id} ({key.name}, scope {key.scope}) created. It is shown only now; "
        "keep it secret.\n"
        "Use it as: Authorization: Bearer <key> (the openai SDK's api_key).",
        file=sys.stderr,
    )
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from src.access.keys import KeyStore

    keys = KeyStore(settings.data_dir).list()
    if args.json:
        from src.schema.reports import ApiKeyRow, report_json

        rows = [ApiKeyRow.model_validate(asdict(key)) for key in keys]  # the hash stays out
        json.dump(report_json(rows), sys.stdout, indent=2)
        print()
        return 0
    if not keys:
        print("No API keys yet. Make one with: python -m src keys create NAME")
    for key in keys:
        made = datetime.fromtimestamp(key.created_at).strftime("%Y-%m-%d %H:%M")
        state = (
            "active"
            if key.active
            else "revoked " + datetime.fromtimestamp(key.revoked_at or 0).strftime("%Y-%m-%d %H:%M")
        )
        print(f"{key.id}  {key.shown}…  {key.name:<24}  {key.scope:<5}  created {made}  {state}")
    return 0


def run_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from src.access.keys import KeyStore

    key = KeyStore(settings.data_dir).revoke(args.id)
    print(f"Revoked API key {key.id} ({key.name}).")
    return 0
