"""`fraudlog keys create NAME ROLE`: a new API key, printed once, with the hashed entry to configure."""

from __future__ import annotations

import argparse
from typing import Any

from service.api.auth import configured_entry, new_key
from service.config import ROLES, SECRET_KEY, Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="create API keys")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="print a new key once, and its FRAUDLOG_API_KEYS entry")
    create.add_argument("name", help="who the key is for (letters, digits, . _ -)")
    create.add_argument("role", choices=ROLES)
    create.set_defaults(run=_create)


def _create(args: argparse.Namespace) -> int:
    if not args.name or ":" in args.name or "," in args.name:
        raise ValueError(f"a key name may not be empty or contain ':' or ',': {args.name!r}")
    settings = Settings.from_env().require(SECRET_KEY)  # the entry holds the key's HMAC under it
    key = new_key()
    print(f"API key for {args.name} ({args.role}), shown once; keep it secret:\n  {key}\n")
    print("Add this entry to FRAUDLOG_API_KEYS (it holds only the key's HMAC under FRAUDLOG_SECRET_KEY):")
    print(f"  {configured_entry(args.name, args.role, settings.secret_key, key)}")
    return 0
