"""`fraudlog serve`: run the HTTP API under uvicorn."""

from __future__ import annotations

import argparse
import math
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from fraudlog.api.server import STREAM_SHUTDOWN_GRACE
from fraudlog.config import Settings
from fraudlog.logs import logging_config
from fraudlog.metrics.multiprocess import shared_metrics_directory


class TcpConfig(uvicorn.Config):
    """uvicorn's shared socket for --workers is made with proto 0, so asyncio never sets TCP_NODELAY on its
    connections and every keep-alive answer waits ~40 ms for a delayed ACK (uvicorn issue 3149).
    Re-wrapping the socket with IPPROTO_TCP restores TCP_NODELAY in every worker process."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        return sock


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP API")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8000, help="the port to listen on (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="API processes (each with its own writer)")
    parser.add_argument("--log-level", default=None,
                        help="DEBUG, INFO, WARNING or ERROR (default: FRAUDLOG_LOG_LEVEL or INFO)")
    parser.set_defaults(run=_serve)


def uvicorn_config(args: argparse.Namespace, settings: Settings) -> TcpConfig:
    """What `fraudlog serve` runs: the app factory, the address, the processes and their health-check timeout."""
    # uvicorn applies log_config in every worker process it starts, so they all log as this one does.
    log_config = logging_config(args.log_level)
    # uvicorn's parent pings each API process and kills one that does not answer in time; whole seconds.
    healthcheck = max(1, math.ceil(settings.api_healthcheck_timeout.total_seconds()))
    return TcpConfig("fraudlog.workers.wiring:served_app", factory=True, host=args.host, port=args.port,
                     workers=args.workers, log_config=log_config, log_level=log_config["root"]["level"].lower(),
                     access_log=False, timeout_worker_healthcheck=healthcheck,
                     timeout_graceful_shutdown=STREAM_SHUTDOWN_GRACE)


def _serve(args: argparse.Namespace) -> int:
    # Fail fast, with a one-line message: each uvicorn process checks again in `served_app`.
    settings = Settings.from_env().require_for_api()
    config = uvicorn_config(args, settings)
    if args.workers > 1:
        # The processes share their request histograms through one directory (fraudlog.metrics.multiprocess).
        with shared_metrics_directory(settings.observability.prometheus_multiproc_dir):
            Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
    return 0
