"""What every command that talks HTTP to a running fraudlog shares: `--url`, `--api-key` (else
FRAUDLOG_API_KEY), and client failures as one line (`CommandFailed`), never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from service.cli.errors import CommandFailed
from service.config import ClientSettings

if TYPE_CHECKING:
    from service.client import FraudlogClient

DEFAULT_URL = "http://127.0.0.1:8000"


def add_client_options(parser: Any, *, url_required: bool = False) -> None:
    parser.add_argument("--url", required=url_required, default=None if url_required else DEFAULT_URL,
                        help="the API's base URL" + ("" if url_required else f" (default {DEFAULT_URL})"))
    parser.add_argument("--api-key", default=None, help="an API key (default: FRAUDLOG_API_KEY)")


@contextmanager
def connected_client(args: argparse.Namespace) -> Iterator[FraudlogClient]:
    """A client for `args`; a `ClientError` inside the block becomes the command's one-line failure."""
    from service.client import ClientError, FraudlogClient  # not for `--help`: it imports the response Structs

    client = FraudlogClient(args.url, api_key=args.api_key or ClientSettings.from_env().api_key)
    try:
        yield client
    except ClientError as exc:
        raise CommandFailed(str(exc)) from exc
    finally:
        client.close()
