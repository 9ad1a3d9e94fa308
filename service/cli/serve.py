"""`fraudlog serve`: run the HTTP API under uvicorn."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="API processes (each with its own writer)")
    parser.add_argument("--log-level", default=None,
                        help="DEBUG, INFO, WARNING or ERROR (default: FRAUDLOG_LOG_LEVEL or INFO)")
    parser.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.config import Settings
    from service.logs import logging_config

    Settings.from_env()  # fail fast, with a one-line message, on bad configuration
    # uvicorn applies log_config in every worker process it starts, so they all log as this one does.
    config = logging_config(args.log_level)
    uvicorn.run("service.api.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_config=config, log_level=config["root"]["level"].lower(),
                access_log=False)
    return 0
