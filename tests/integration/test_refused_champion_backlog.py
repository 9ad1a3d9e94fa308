"""The backlog a refused champion leaves is scored by the next champion that verifies, and the feed's watermark
moves past it (issue 27, item 2: the first 200 were never scored, `next_cursor` never moved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.feed.watermark import FeedWatermark
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.scoring.sweeper import Sweeper
from fraudlog.store.tables import predictions
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows, tamper_artifact


def champion_versions(engine: Engine, positions: list[int]) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(predictions.c.model_version).where(
            predictions.c.champion, predictions.c.position.in_(positions)).order_by(predictions.c.position)).scalars())


def test_a_refused_champions_backlog_is_scored_by_the_next_servable_champion(database_url: str,
                                                                             engine: Engine) -> None:
    refused = install_version(engine)
    stuck = append_transactions(engine, synthetic_rows(30, seed=51))
    tamper_artifact(engine, refused, with_digest=True)
    scorer = Scorer(engine, ModelRegistry(engine, SECRET))
    assert scorer.score_positions(stuck).refused == 30
    sweeper = Sweeper(engine, ModelRegistry(engine, SECRET))
    watermark = FeedWatermark(engine, ModelRegistry(engine, SECRET))
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert sweeper.find_unscored(grace=timedelta(0), now=later) == []  # passed while no servable champion serves
    assert watermark.advance() < stuck[0]

    good = install_version(engine)  # promoted: the champion serving now verifies
    after = append_transactions(engine, synthetic_rows(30, seed=52))
    assert scorer.score_positions(after).predictions == 30
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert sweeper.find_unscored(grace=timedelta(0), now=later) == stuck  # rung again, for the new champion
    report = scorer.score_positions(stuck)
    assert (report.predictions, report.refused) == (30, 0)
    assert champion_versions(engine, stuck) == [good] * 30
    assert watermark.advance() == after[-1]
    assert sweeper.find_unscored(grace=timedelta(0), now=later) == []
