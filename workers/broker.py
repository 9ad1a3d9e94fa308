"""A Dramatiq broker from a URL: amqp:// (RabbitMQ), redis:// or memory:// (in-process, embedded mode)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

from fraudlog.workers.middleware import sending_process_middleware


def broker_from_url(url: str, middleware: list[dramatiq.Middleware] | None = None) -> dramatiq.Broker:
    """`middleware` is the broker's whole stack (`fraudlog.workers.middleware`); None: the stack of a sending
    process."""
    if middleware is None:
        middleware = sending_process_middleware()
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # Publisher confirms: a doorbell the API thinks it rang has reached the broker.
        return RabbitmqBroker(url=url, confirm_delivery=True, middleware=middleware)
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, middleware=middleware)
    if url.startswith("memory://"):
        broker = StubBroker(middleware=middleware)
        broker.emit_after("process_boot")
        return broker
    raise ValueError(f"unsupported broker URL {url!r}: expected amqp://, redis:// or memory://")
