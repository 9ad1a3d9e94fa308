"""Server-Sent Events, read side: turn a stream of text lines into events (the WHATWG parsing rules that
the prediction stream uses: `id`, `event`, `data`, comments and `retry`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str  # "message" unless the server named it
    data: str
    id: str | None  # the last id seen on this stream (the spec carries it over events without one)


def parse_events(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """Events as they complete (a blank line ends one); an event cut off by a broken connection is dropped,
    so a consumer never acts on half an event, and resuming from the last whole one's id repeats nothing."""
    last_id: str | None = None
    event, data = "", list[str]()
    for line in lines:
        if not line:
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data), last_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue  # a comment: the heartbeat
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            last_id = value
