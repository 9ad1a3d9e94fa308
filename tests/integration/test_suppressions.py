"""Suppressions (issue 29; docs/outcomes.md, "Suppression"; invariant 27), on SQLite and Postgres: while a
card is suppressed its transactions are scored and stored as usual, but an alert they would raise is held
back and the champion's prediction names the suppression; it holds for transactions after it in the log with
an event time before `until`, until it is ended; a retried request is a duplicate; rebuild reproduces it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from fraudlog.cli import main
from fraudlog.client import ClientError, FraudlogClient
from fraudlog.config import Settings
from fraudlog.domain.events import format_time, parse_time
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import replay
from fraudlog.replay.rebuild import rebuild
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from fraudlog.store.tables import alert_members, predictions
from tests.support.api import api_client, served_api
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.workload import score_in_batches

CARD = "card-0"


@pytest.fixture
def client(engine: Engine, database_url: str) -> Iterator[TestClient[Any]]:
    install_version(engine, alert_rate=0.5)  # half the transactions would alert: every rule below is exercised
    with api_client(Settings(database_url=database_url, secret_key=SECRET)) as client:
        yield client


def champions(engine: Engine) -> dict[str, tuple[bool, str | None]]:
    """transaction id -> (would alert, suppressed_by) of its champion prediction."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(predictions.c.transaction_id, predictions.c.score >= predictions.c.threshold,
                                      predictions.c.suppressed_by).where(predictions.c.champion)).all()
    return {tx: (bool(alerting), by) for tx, alerting, by in rows}


def covered(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(alert_members.c.transaction_id)).scalars())


def rows_of(count: int, seed: int) -> list[tuple[dict[str, Any], bool]]:
    return [({**body, "transaction_id": f"s{seed}-{body['transaction_id']}"}, label)
            for body, label in synthetic_rows(count, seed=seed, cards=3)]


def score(engine: Engine, positions: list[int]) -> None:
    score_in_batches(Scorer(engine, ModelRegistry(engine, SECRET)), positions)


def test_a_suppressed_card_is_scored_but_raises_no_alert_until_its_event_time_limit(
        client: TestClient[Any], engine: Engine) -> None:
    before = rows_of(60, seed=81)  # appended before the suppression: not held back, even if scored after it
    before_positions = append_transactions(engine, before)
    after = rows_of(120, seed=82)
    card_times = sorted(parse_time(body["event_time"]) for body, _ in after if body["card_id"] == CARD)
    until = card_times[len(card_times) // 2]
    posted = client.post(f"/v1/cards/{CARD}/suppressions", json={"until": format_time(until), "reason": "travelling"})
    assert posted.status_code == 201, posted.text
    suppression = posted.json()
    again = client.post(f"/v1/cards/{CARD}/suppressions", json={"until": format_time(until), "reason": "travelling"})
    assert again.status_code == 200 and again.json()["suppression_id"] == suppression["suppression_id"]
    assert again.json()["position"] == suppression["position"]

    after_positions = append_transactions(engine, after)
    score(engine, before_positions + after_positions)
    scored, alerted = champions(engine), covered(engine)
    for body, _ in before + after:
        tx = body["transaction_id"]
        would_alert, by = scored[tx]
        held = (body in [b for b, _ in after] and body["card_id"] == CARD and would_alert
                and parse_time(body["event_time"]) < until)
        assert by == (suppression["suppression_id"] if held else None), tx
        assert (tx in alerted) == (would_alert and not held), tx
    assert any(by for _, by in scored.values()), "the scenario must hold back at least one alert"
    held_tx = next(tx for tx, (_, by) in scored.items() if by)
    [champion] = [p for p in client.get(f"/v1/transactions/{held_tx}").json()["predictions"] if p["champion"]]
    assert champion["suppressed_by"] == suppression["suppression_id"] and champion["reproduced"] is True

    # Replay recomputes which alerts were held back, and names a stored one that was changed.
    assert replay(engine, ModelRegistry(engine, SECRET)).different == 0
    with engine.begin() as conn:
        conn.execute(sa.update(predictions).where(predictions.c.transaction_id == held_tx, predictions.c.champion)
                     .values(suppressed_by=None))
    report = replay(engine, ModelRegistry(engine, SECRET))
    assert report.different == 1 and list(report.differences[0].fields) == ["suppressed_by"]
    listed = client.get(f"/v1/cards/{CARD}/suppressions").json()["items"]
    assert [(s["suppression_id"], s["ended_at"]) for s in listed] == [(suppression["suppression_id"], None)]


def test_an_ended_suppression_holds_back_nothing_after_its_end(client: TestClient[Any], engine: Engine) -> None:
    suppression = client.post(f"/v1/cards/{CARD}/suppressions",
                              json={"until": "9999-01-01T00:00:00Z", "reason": "cleared by an analyst"}).json()
    during = append_transactions(engine, rows_of(60, seed=83))
    ended = client.delete(f"/v1/cards/{CARD}/suppressions/{suppression['suppression_id']}")
    assert ended.status_code == 202, ended.text
    assert ended.json()["ended_at"] > suppression["position"]
    assert client.delete(f"/v1/cards/{CARD}/suppressions/{suppression['suppression_id']}").status_code == 200
    missing = client.delete(f"/v1/cards/{CARD}/suppressions/no-such-id")
    assert missing.status_code == 404 and missing.json()["type"].endswith("/unknown-suppression")
    later = append_transactions(engine, rows_of(60, seed=84))
    score(engine, during + later)  # scored after the end: what counts is where each is in the log
    scored = champions(engine)
    later_ids = {body["transaction_id"] for body, _ in rows_of(60, seed=84)}
    held = {tx for tx, (_, by) in scored.items() if by}
    assert held and not held & later_ids
    assert all(scored[tx][0] for tx in held)


def test_a_rebuild_holds_back_the_same_alerts(client: TestClient[Any], engine: Engine, tmp_path: Path) -> None:
    suppression = client.post(f"/v1/cards/{CARD}/suppressions",
                              json={"until": "9999-01-01T00:00:00Z", "reason": "travelling"}).json()
    first = append_transactions(engine, rows_of(60, seed=85))
    client.delete(f"/v1/cards/{CARD}/suppressions/{suppression['suppression_id']}")
    second = append_transactions(engine, rows_of(60, seed=86))
    score(engine, first + second)
    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuild(engine, target_url, SECRET)
    target = create_engine(target_url)
    try:
        assert champions(target) == champions(engine)
        assert covered(target) == covered(engine)
        assert any(by for _, by in champions(engine).values())
    finally:
        target.dispose()


def test_a_suppression_body_is_validated_and_a_bad_one_stores_nothing(client: TestClient[Any]) -> None:
    for body in ({"until": "tomorrow", "reason": "x"}, {"until": "2026-12-01T00:00:00", "reason": "x"},
                 {"until": "2026-12-01T00:00:00Z", "reason": ""}, {"until": "2026-12-01T00:00:00Z"}):
        response = client.post(f"/v1/cards/{CARD}/suppressions", json=body)
        assert response.status_code in (400, 422), (body, response.text)
    assert client.get(f"/v1/cards/{CARD}/suppressions").json()["items"] == []




def test_the_cli_suppresses_lists_and_ends_and_refuses_in_one_line(
        engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    suppress = ["cards", "suppress", CARD, "--until", "2030-01-01T00:00:00+01:00", "--reason", "travelling",
                "--actor", "analyst-7"]
    assert main(suppress) == 0 and capsys.readouterr().out.startswith("suppressed: ")
    assert main(suppress) == 0 and capsys.readouterr().out.startswith("already recorded: ")
    assert main(["cards", "suppressions", CARD, "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["until"], listed["actor"], listed["ended_at"]) == ("2029-12-31T23:00:00.000000Z", "analyst-7", None)
    assert main(["cards", "unsuppress", CARD, listed["suppression_id"]]) == 0
    assert capsys.readouterr().out.startswith("ended: ")
    assert main(["cards", "unsuppress", CARD, "no-such-id"]) == 1
    assert capsys.readouterr().out.count("\n") == 1
    assert main(["cards", "suppress", CARD, "--until", "2030-01-01", "--reason", "x"]) == 1  # no offset
    assert capsys.readouterr().out.count("\n") == 1
    assert main(["cards", "suppressions", CARD, "--json"]) == 0
    [ended] = json.loads(capsys.readouterr().out)
    assert ended["ended_at"] is not None


def test_the_python_client_suppresses_lists_and_ends(engine: Engine, database_url: str) -> None:
    with served_api(Settings(database_url=database_url, secret_key=SECRET)) as url:
        client = FraudlogClient(url)
        made = client.suppress(CARD, parse_time("2030-01-01T00:00:00Z"), "customer travelling")
        assert (made.status, made.until, made.ended_at) == ("recorded", "2030-01-01T00:00:00.000000Z", None)
        assert client.suppress(CARD, parse_time("2030-01-01T00:00:00Z"), "customer travelling").status == "duplicate"
        ended = client.end_suppression(CARD, made.suppression_id)
        assert ended.ended_at is not None and ended.ended_at > made.position
        assert [(s.suppression_id, s.ended_at) for s in client.suppressions(CARD)] == [
            (made.suppression_id, ended.ended_at)]
        with pytest.raises(ClientError, match=r"unknown-suppression|no suppression"):
            client.end_suppression(CARD, "no-such-id")
        client.close()
