"""`fraudlog keys create NAME ROLE`: a new API key, printed once, with the hashed entry to configure.

`--shell` prints the same as two lines of POSIX shell, for `eval "$(fraudlog keys create NAME ROLE --shell)"`
in a deployment script: the entry is appended to FRAUDLOG_API_KEYS and the key is exported as FRAUDLOG_API_KEY,
which the client commands (`tail`, `simulate`) read, so it never appears on a terminal.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from fraudlog.config import ROLES, SECRET_KEY, Settings

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="create API keys")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="print a new key once, and its FRAUDLOG_API_KEYS entry")
    create.add_argument("name", help="who the key is for (1-64 letters, digits, . _ -)")
    create.add_argument("role", choices=ROLES, help="what the key may do: " + ", ".join(ROLES))
    create.add_argument("--shell", action="store_true",
                        help="print shell exports to eval: FRAUDLOG_API_KEYS gains the entry, "
                             "FRAUDLOG_API_KEY (what the client commands read) holds the key")
    create.set_defaults(run=_create)


def _create(args: argparse.Namespace) -> int:
    from fraudlog.api.auth import configured_entry, new_key  # the API package: not for `fraudlog keys --help`

    if not _NAME.fullmatch(args.name):
        # The name is also a shell word in --shell output: the alphabet keeps it one without quoting.
        raise ValueError(f"a key name is 1-64 letters, digits, '.', '_' or '-': {args.name!r}")
    settings = Settings.from_env().require(SECRET_KEY)  # the entry holds the key's HMAC under it
    key = new_key()
    entry = configured_entry(args.name, args.role, settings.secret_key, key)
    if args.shell:
        print(f'export FRAUDLOG_API_KEYS="${{FRAUDLOG_API_KEYS:+$FRAUDLOG_API_KEYS,}}{entry}"')
        print(f"export FRAUDLOG_API_KEY={key}")
        return 0
    print(f"API key for {args.name} ({args.role}), shown once; keep it secret:\n  {key}\n")
    print("Add this entry to FRAUDLOG_API_KEYS (it holds only the key's HMAC under FRAUDLOG_SECRET_KEY):")
    print(f"  {entry}")
    return 0
