"""The client distribution against a real server (issue 31): `AsyncFraudlogClient` submits, reads and follows;
`follow(idle_timeout=...)` of both clients ends with `StreamIdle` when the server sends nothing, not even a
heartbeat, and keeps going while heartbeats arrive."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from fraudlog.api.server import serve_in_thread
from fraudlog.config import Settings
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from fraudlog_client import AsyncFraudlogClient, FraudlogClient, PredictionItem, StreamIdle
from tests.support.api import build_app
from tests.support.models import SECRET, install_version, synthetic_rows

SILENT = timedelta(hours=1)  # a heartbeat that never comes while a test runs: the server stops sending


def settings_with_heartbeat(sqlite_url: str, heartbeat: timedelta) -> Settings:
    settings = Settings(database_url=sqlite_url, secret_key=SECRET)
    return replace(settings, feed=replace(settings.feed, heartbeat=heartbeat))


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_engine(sqlite_url)
    install_version(engine)
    yield engine
    engine.dispose()


def score(engine: Engine, positions: list[int]) -> None:
    Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(positions)


def test_the_async_client_submits_reads_and_follows_with_an_idle_timeout(sqlite_url: str, engine: Engine) -> None:
    labelled = synthetic_rows(30, seed=71)
    rows = [body for body, _ in labelled]
    labels = [{"transaction_id": body["transaction_id"], "is_fraud": fraud} for body, fraud in labelled]

    async def scenario(url: str) -> tuple[list[int], list[PredictionItem], list[PredictionItem], StreamIdle]:
        async with AsyncFraudlogClient(url) as client:
            receipts = await client.submit(rows)
            assert [r.status for r in receipts] == ["accepted"] * 30
            assert [r.status for r in await client.submit(rows[:3])] == ["duplicate"] * 3
            assert len(await client.label(labels)) == 30
            positions = [r.position for r in receipts]
            await asyncio.to_thread(score, engine, positions)
            page = await client.predictions(after="0", limit=100)
            assert [m.version for m in await client.models()] == [1]
            assert (await client.stats()).scored >= 30
            assert (await client.transaction(rows[0]["transaction_id"])).transaction.position == positions[0]
            assert (await client.predict(rows[0])).model_version == 1
            assert [p.model_version for p in await client.compare(rows[0])] == [1]
            followed: list[PredictionItem] = []
            with pytest.raises(StreamIdle) as idle:
                async for item in client.follow(after="0", idle_timeout=1.0):
                    followed.append(item)
            assert idle.value.cursor == client.cursor == followed[-1].cursor
            return positions, page.items, followed, idle.value

    with serve_in_thread(build_app(settings_with_heartbeat(sqlite_url, SILENT))) as url:
        positions, page, followed, idle = asyncio.run(asyncio.wait_for(scenario(url), timeout=60))
    assert [item.position for item in page] == positions
    assert [item.position for item in followed] == positions
    assert "sent nothing, not even a heartbeat, for 1 s" in str(idle)


def test_a_heartbeat_keeps_an_idle_timeout_from_ending_the_stream(sqlite_url: str, engine: Engine) -> None:
    """Heartbeats every 0.2 s, an idle timeout of 1 s: three quiet seconds pass, the stream stays, and the
    predictions scored after them arrive; then the async client resumes from the cursor it stopped at."""
    first: list[int] = []

    async def scenario(url: str) -> list[int]:
        received: list[int] = []
        async with AsyncFraudlogClient(url) as client:
            receipts = await client.submit([body for body, _ in synthetic_rows(10, seed=72)])
            first.extend(r.position for r in receipts)
            await asyncio.to_thread(score, engine, first)
            stream = client.follow(after="0", idle_timeout=1.0)
            async for item in stream:
                received.append(item.position)
                if len(received) == len(first):
                    break
            await stream.aclose()
            cursor = client.cursor
            later = await client.submit([body for body, _ in synthetic_rows(10, seed=73)])
            await asyncio.sleep(3.0)  # quiet: only heartbeats
            await asyncio.to_thread(score, engine, [r.position for r in later])
            async for item in client.follow(after=cursor, idle_timeout=1.0):
                received.append(item.position)
                if len(received) == 20:
                    break
        return received

    with serve_in_thread(build_app(settings_with_heartbeat(sqlite_url, timedelta(seconds=0.2)))) as url:
        received = asyncio.run(asyncio.wait_for(scenario(url), timeout=60))
    assert len(received) == 20 and received == sorted(set(received)) and received[:10] == first


def test_follow_ends_after_the_idle_timeout_when_the_server_stops_sending(sqlite_url: str, engine: Engine) -> None:
    """The sync client, on a thread joined with a timeout: without the idle timeout it would wait for ever."""
    outcome: list[BaseException | None] = []
    received: list[int] = []
    with serve_in_thread(build_app(settings_with_heartbeat(sqlite_url, SILENT))) as url:
        client = FraudlogClient(url)
        positions = [r.position for r in client.submit([body for body, _ in synthetic_rows(5, seed=74)])]
        score(engine, positions)

        def follow() -> None:
            try:
                for item in client.follow(after="0", idle_timeout=1.0):
                    received.append(item.position)
                outcome.append(None)
            except BaseException as exc:  # handed to the test's thread
                outcome.append(exc)

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        thread.join(timeout=20)
        alive = thread.is_alive()
        client.close()
    assert not alive, "follow() did not end after its idle timeout"
    assert received == positions
    [error] = outcome
    assert isinstance(error, StreamIdle) and error.cursor is not None and client.cursor == error.cursor
