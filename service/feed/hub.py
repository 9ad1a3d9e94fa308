"""One shared reader per API process, fanned out to every stream it serves.

The hub asks the database one question per tick (how far is the log final, `FeedWatermark`), reads the
predictions that became final once, and hands each consumer what its filter wants. It never waits on a
consumer: each has a bounded buffer, and a consumer whose buffer would overflow is cut off (its stream
ends with the cursor to resume from). So a slow consumer costs scoring and the other consumers nothing.

A consumer that starts behind the hub catches up with its own paged reads, then joins the fan-out; the
handover is exact because joining happens without an `await` between reading the hub's position and
registering, and items at or below the consumer's cursor are dropped on delivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import anyio.to_thread
from prometheus_client import Counter, Gauge
from sqlalchemy.engine import Engine

from fraudlog.config import FeedSettings
from fraudlog.feed.cursor import Cursor
from fraudlog.feed.watermark import FeedWatermark
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.event_log import EventLog
from fraudlog.store.feed import FeedFilter, FeedItem, feed_page

log = logging.getLogger("fraudlog.feed")

# "livesum": one series, the streams open in the live API processes (a dead one's files are forgotten by
# `fraudlog.metrics.multiprocess.forget_dead_processes`, issue 27 #8).
STREAM_CONSUMERS = Gauge("fraudlog_stream_consumers", "Prediction streams open in the live API processes",
                         multiprocess_mode="livesum")
STREAM_CUT_OFF = Counter("fraudlog_stream_consumers_cut_off",
                         "Prediction streams ended because their consumer fell too far behind")
READ_CHUNK = 2_000


class TooManyStreams(Exception):
    pass


class Subscription:
    """One consumer's place in the fan-out: a bounded buffer, and whether it was cut off."""

    def __init__(self, feed: FeedFilter, capacity: int, on_cut_off: Callable[[Subscription], None],
                 notify: Callable[[], None] | None = None) -> None:
        self.feed = feed
        self._notify = notify
        self.capacity = capacity
        self.buffer: deque[FeedItem] = deque()
        self.cut_off = False
        self.wake = asyncio.Event()
        self._on_cut_off = on_cut_off

    def offer(self, items: list[FeedItem]) -> None:
        """Called by the hub; never blocks. Overflow cuts the consumer off instead of waiting for it."""
        if self.cut_off:
            return
        wanted = [self.feed.shown(item) for item in items if self.feed.matches(item)]
        if len(self.buffer) + len(wanted) > self.capacity:
            self.cut_off = True
            self.buffer.clear()
            self._on_cut_off(self)
            if self._notify is not None:
                self._notify()
        else:
            self.buffer.extend(wanted)
        if wanted or self.cut_off:
            self.wake.set()


class PredictionHub:
    def __init__(self, engine: Engine, registry: ModelRegistry, settings: FeedSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.watermark = FeedWatermark(engine, registry)
        self.through = 0  # everything final up to here has been offered to the subscriptions
        self._advancing = asyncio.Lock()  # one FeedWatermark.advance at a time (the tick and page reads)
        self._subscriptions: set[Subscription] = set()
        self._streams_by_key: dict[str, int] = {}

    async def run(self) -> None:
        """The reader loop; runs as long as the app (a lifespan task). An API process serving no stream
        asks the database nothing."""
        while True:
            await asyncio.sleep(self.settings.tick.total_seconds())
            if not self._subscriptions:
                continue
            try:
                await self.tick()
            except Exception:  # the database may be down for a while: keep the streams open, retry
                log.exception("the prediction feed could not read the log")
                await asyncio.sleep(1.0)

    async def final_position(self) -> int:
        """Advance the watermark now (one query) and return it: the highest position the feed may show."""
        async with self._advancing:
            return await anyio.to_thread.run_sync(self.watermark.advance)

    async def last_position(self) -> int:
        """The log's newest position, final or not (a cursor beyond it was never handed out by this log)."""
        return await anyio.to_thread.run_sync(EventLog(self.engine).last_position)

    async def tick(self) -> None:
        final = await self.final_position()
        while self.through < final and self._subscriptions:
            wanted = FeedFilter(all_versions=True,
                                with_features=any(s.feed.with_features for s in self._subscriptions),
                                with_reasons=any(s.feed.with_reasons for s in self._subscriptions))
            items = await self.read(self.through, final, wanted, READ_CHUNK)
            for subscription in list(self._subscriptions):
                subscription.offer(items)
            self.through = max(self.through, items[-1].position if len(items) >= READ_CHUNK else final)

    async def read(self, after: int, through: int, feed: FeedFilter, limit: int) -> list[FeedItem]:
        def page() -> list[FeedItem]:
            with self.engine.connect() as conn:
                return feed_page(conn, after=after, through=through, feed=feed, limit=limit)

        return await anyio.to_thread.run_sync(page)

    def open_stream(self, key: str) -> None:
        """Count a stream against its key's limit; `TooManyStreams` when the key holds the maximum."""
        held = self._streams_by_key.get(key, 0)
        if held >= self.settings.streams_per_key:
            raise TooManyStreams(f"key {key!r} already holds {held} prediction streams in this API process")
        self._streams_by_key[key] = held + 1
        STREAM_CONSUMERS.inc()

    def close_stream(self, key: str) -> None:
        self._streams_by_key[key] -= 1
        STREAM_CONSUMERS.dec()

    async def follow(self, feed: FeedFilter, cursor: Cursor,
                     on_cut_off: Callable[[], None] | None = None) -> AsyncGenerator[list[FeedItem]]:
        """Every matching prediction after `cursor`, in log order, each once, in batches that never split a
        position; an empty batch after `heartbeat_seconds` with nothing to deliver (the stream's heartbeat).
        Ends when the consumer is cut off (`on_cut_off` is called first, from the hub's task, so a stream
        blocked on a consumer that stopped reading can abandon its write)."""
        final = await self.final_position()
        if not self._subscriptions:  # nothing is offered while idle: the hub may jump to the log's final position
            self.through = max(self.through, final)
        after = cursor.complete_through
        while self.through - after > READ_CHUNK:  # far behind: catch up alone, without holding a buffer
            target = self.through
            async for batch in self._catch_up(feed, after, target, cursor):
                yield batch
            after = target
        subscription = Subscription(feed, self.settings.buffer, self._cut_off, on_cut_off)
        joined_at = self.through  # no await between this read and the registration below
        self._subscriptions.add(subscription)
        try:
            async for batch in self._catch_up(feed, after, joined_at, cursor):
                yield batch
            # The catch-up delivered up to `joined_at`, and a cursor from another API process may be ahead of
            # this one's hub: the buffer's copies of either are dropped.
            while not subscription.cut_off:
                batch = [item for item in subscription.buffer if item.position > joined_at
                         and not cursor.already_delivered(item.position, item.model_version)]
                subscription.buffer.clear()
                if batch:
                    yield batch
                if subscription.cut_off:
                    return
                subscription.wake.clear()
                if not subscription.buffer:
                    try:
                        await asyncio.wait_for(subscription.wake.wait(), self.settings.heartbeat.total_seconds())
                    except TimeoutError:
                        yield []
        finally:
            self._subscriptions.discard(subscription)

    async def _catch_up(self, feed: FeedFilter, after: int, through: int,
                        cursor: Cursor) -> AsyncIterator[list[FeedItem]]:
        while after < through:
            items = await self.read(after, through, feed, READ_CHUNK)
            batch = [item for item in items if not cursor.already_delivered(item.position, item.model_version)]
            if batch:
                yield batch
            after = items[-1].position if len(items) >= READ_CHUNK else through

    def _cut_off(self, subscription: Subscription) -> None:
        STREAM_CUT_OFF.inc()
        log.warning("a prediction stream fell %d predictions behind and was cut off", subscription.capacity)
