"""Serve an app under uvicorn on a background thread: the demo's server, and the tests' real HTTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from litestar import Litestar

# Open prediction streams never finish by themselves: after this many seconds of a graceful shutdown uvicorn
# cancels them, and their consumers resume on another process (or this one restarted) with Last-Event-ID.
STREAM_SHUTDOWN_GRACE = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Litestar, port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """Yield the base URL of `app` served by uvicorn until the block exits (port 0: any free port)."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                           log_config=None, timeout_graceful_shutdown=STREAM_SHUTDOWN_GRACE))
    thread = threading.Thread(target=server.run, name="fraudlog-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the API did not start on {host}:{port} (is the port taken?)")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
