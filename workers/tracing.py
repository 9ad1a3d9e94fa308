"""Dramatiq's part of tracing (see `fraudlog.tracing`): the sender's trace context rides in the message's
options, and the worker's span of processing it continues that trace."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy

from fraudlog.tracing import SPAN_CONTEXT_OPTION, end_consumer_span, inject_current, start_consumer_span


class TracingMiddleware(dramatiq.Middleware):
    """`before_enqueue` carries the current context; `before_process_message` / `after_process_message`
    wrap the actor in a `CONSUMER` span, current while it runs (so a message it sends continues the trace)."""

    def __init__(self) -> None:
        self._spans: dict[str, Any] = {}

    def before_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: int) -> None:
        carrier = inject_current()
        if carrier:
            message.options[SPAN_CONTEXT_OPTION] = carrier

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        attributes = {"messaging.system": "dramatiq", "messaging.destination.name": message.queue_name,
                      "messaging.message.id": message.message_id, "fraudlog.actor": message.actor_name}
        started = start_consumer_span(f"{message.actor_name} process",
                                      message.options.get(SPAN_CONTEXT_OPTION) or {}, attributes)
        if started is not None:
            self._spans[message.message_id] = started

    def after_process_message(self, broker: dramatiq.Broker, message: MessageProxy, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        started = self._spans.pop(message.message_id, None)
        if started is not None:
            end_consumer_span(started, exception)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        self.after_process_message(broker, message)
