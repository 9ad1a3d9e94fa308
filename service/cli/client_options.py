"""What every command that talks HTTP to a running fraudlog shares: `--url` (else FRAUDLOG_URL), `--api-key`
(else FRAUDLOG_API_KEY), and client failures as one line (`CommandFailed`), never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from fraudlog.cli.errors import CommandFailed
from fraudlog.config import ClientSettings

if TYPE_CHECKING:
    from fraudlog.client import FraudlogClient

DEFAULT_URL = "http://127.0.0.1:8000"


def add_client_options(parser: Any, *, url_required: bool = False) -> None:
    """`url_required`: no default address, so the command never sends to a server it was not pointed at."""
    default = "FRAUDLOG_URL, which must then be set" if url_required else f"FRAUDLOG_URL, else {DEFAULT_URL}"
    parser.add_argument("--url", default=None, help=f"the API's base URL (default: {default})")
    parser.add_argument("--api-key", default=None, help="an API key (default: FRAUDLOG_API_KEY)")
    parser.set_defaults(url_required=url_required)


def chosen_url(args: argparse.Namespace) -> str:
    """`--url`, else FRAUDLOG_URL, else the local default unless the command requires an address."""
    url = args.url or ClientSettings.from_env().url
    if url is None and getattr(args, "url_required", False):
        raise CommandFailed("no API to send to: give --url or set FRAUDLOG_URL")
    return url or DEFAULT_URL


@contextmanager
def connected_client(args: argparse.Namespace) -> Iterator[FraudlogClient]:
    """A client for `args`; a `ClientError` inside the block becomes the command's one-line failure."""
    from fraudlog.client import ClientError, FraudlogClient  # not for `--help`: it imports the response Structs

    client = FraudlogClient(chosen_url(args), api_key=args.api_key or ClientSettings.from_env().api_key)
    try:
        yield client
    except ClientError as exc:
        raise CommandFailed(str(exc)) from exc
    finally:
        client.close()
