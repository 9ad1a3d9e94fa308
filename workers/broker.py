"""A Dramatiq broker from a URL: amqp:// (RabbitMQ), redis:// or memory:// (in-process, embedded mode)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker


def broker_from_url(url: str) -> dramatiq.Broker:
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # Publisher confirms: a doorbell the API thinks it rang has reached the broker.
        return RabbitmqBroker(url=url, confirm_delivery=True)
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    if url.startswith("memory://"):
        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    raise ValueError(f"unsupported broker URL {url!r}: expected amqp://, redis:// or memory://")
