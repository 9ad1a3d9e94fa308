"""Server-Sent Events, read side: turn a stream of text lines into events (the WHATWG parsing rules that
the prediction stream uses: `id`, `event`, `data`, comments and `retry`).

`EventParser` takes one line at a time, so the sync client (`parse_events` over `iter_lines`) and the async
one (`aparse_events` over `aiter_lines`) share every rule."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str  # "message" unless the server named it
    data: str
    id: str | None  # the last id seen on this stream (the spec carries it over events without one)


@dataclass(slots=True)
class EventParser:
    """Events as they complete (a blank line ends one); an event cut off by a broken connection is never
    returned, so a consumer never acts on half an event, and resuming from the last whole one's id repeats
    nothing."""

    last_id: str | None = None
    event: str = ""
    data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> ServerSentEvent | None:
        """The event `line` completes, if it does."""
        if not line:
            done = ServerSentEvent(self.event or "message", "\n".join(self.data), self.last_id) if self.data else None
            self.event, self.data = "", []
            return done
        if line.startswith(":"):
            return None  # a comment: the heartbeat
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None


def parse_events(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    parser = EventParser()
    for line in lines:
        if (event := parser.feed(line)) is not None:
            yield event


async def aparse_events(lines: AsyncIterable[str]) -> AsyncIterator[ServerSentEvent]:
    parser = EventParser()
    async for line in lines:
        if (event := parser.feed(line)) is not None:
            yield event
