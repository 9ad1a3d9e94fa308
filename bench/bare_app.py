"""The bare framework: a Litestar app under uvicorn that validates one transaction with msgspec and answers 202.

    .venv/bin/python -m bench.bare_app --port 8123

The floor `bench.single_request` measures fraudlog's single POST against (issue 30): the same framework, the
same server and its settings (httptools and uvloop when installed, no access log), the same Struct decoding the
same body, and an answer shaped like fraudlog's receipt; no authentication, no log, no database, no doorbell.
"""

from __future__ import annotations

import argparse
from typing import Any

import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get, post

from fraudlog.domain.events import TransactionIn

_decoder = msgspec.json.Decoder(TransactionIn)


class Receipt(msgspec.Struct):
    transaction_id: str
    position: int
    status: str


@post("/v1/transactions", status_code=202)
async def accept(request: Request[Any, Any, Any]) -> Response[Receipt]:
    transaction = _decoder.decode(await request.body())
    return Response(Receipt(transaction.transaction_id, 0, "accepted"), status_code=202)


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[accept, health], openapi_config=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    args = parser.parse_args()
    # uvicorn picks httptools and uvloop when installed, as it does for `fraudlog serve`.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False,
                log_level="warning")


if __name__ == "__main__":
    main()
