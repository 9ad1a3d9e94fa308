"""The dashboard's review queue and alert panel in a real browser (issues 28 and 29): the queue lists the alerts
waiting for an answer; the panel draws the alert's stored reasons as signed bars beside the card's history;
the keys f and n answer as analyst (the label the API then shows), j moves on; a row of Latest alerts opens
the panel too. The screenshot is saved as test-artifacts/dashboard-review.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fraudlog.client import FraudlogClient
from fraudlog.config import Settings
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from tests.support.api import served_api
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.workload import score_in_batches

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def alerted(sqlite_url: str) -> str:
    """A champion that alerts on about a third of 60 scored transactions over 4 cards."""
    engine = create_engine(sqlite_url)
    install_version(engine, model="logreg", alert_rate=0.3)
    positions = append_transactions(engine, synthetic_rows(60, seed=28, cards=4))
    score_in_batches(Scorer(engine, ModelRegistry(engine, SECRET)), positions)
    engine.dispose()
    return sqlite_url


def panel(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("""() => {
        const panel = document.getElementById('review-panel');
        const box = (bar) => bar.parentElement.getBoundingClientRect();
        const track = (bar) => box(bar).width;
        return {
          alert: panel.dataset.alert, answered: panel.dataset.answered,
          bars: [...panel.querySelectorAll('.reason-bar')].map((bar) => ({
            contribution: Number(bar.dataset.contribution), up: bar.classList.contains('up'),
            share: bar.getBoundingClientRect().width / track(bar),
            right: bar.getBoundingClientRect().left >= box(bar).left + track(bar) / 2 - 1,
          })),
          history: [...panel.querySelectorAll('tr[data-history]')].map((row) => row.dataset.history),
          current: panel.querySelector('tr.current') && panel.querySelector('tr.current').dataset.history,
        };
    }"""))


def queued(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#review-queue [data-review]",
                                          "(items) => items.map((i) => i.dataset.review)"))


def test_an_analyst_reviews_alerts_with_their_reasons_and_answers_with_the_keyboard(alerted: str,
                                                                                    browser: Any) -> None:
    errors: list[str] = []
    with served_api(Settings(database_url=alerted, secret_key=SECRET, alert_sink="memory://")) as url, \
            FraudlogClient(url) as client:
        waiting = client.get("/v1/reviews", limit=100)["items"]
        assert len(waiting) >= 4, "the scenario needs several alerts"
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(url + "/?refresh=500")
        page.wait_for_selector("#review-queue [data-review]", timeout=30_000)
        assert queued(page) == [item["alert"]["alert_id"] for item in waiting][:25]

        # The newest alert opens by itself: its reasons as signed bars, the longest half the track, and its card.
        first = waiting[0]
        page.wait_for_function("(id) => document.getElementById('review-panel').dataset.alert === id",
                               arg=first["alert"]["alert_id"], timeout=15_000)
        shown = panel(page)
        reasons = first["explanation"]["reasons"]
        assert [bar["contribution"] for bar in shown["bars"]] == [r["contribution"] for r in reasons]
        for bar in shown["bars"]:
            assert bar["up"] == (bar["contribution"] > 0) == bar["right"], bar
        largest = max(abs(r["contribution"]) for r in reasons)
        for bar, reason in zip(shown["bars"], reasons, strict=True):
            assert bar["share"] == pytest.approx(0.5 * abs(reason["contribution"]) / largest, abs=0.02), bar
        assert shown["history"] == [h["transaction_id"] for h in first["history"]]
        assert shown["current"] == first["transaction"]["transaction_id"]

        # f answers "fraud" as analyst: the label exists, the alert leaves the queue, the next one opens.
        page.keyboard.press("f")
        page.wait_for_function("(id) => !document.querySelector(`#review-queue [data-review=\"${id}\"]`)",
                               arg=first["alert"]["alert_id"], timeout=15_000)
        label = client.transaction(first["transaction"]["transaction_id"]).label
        assert label is not None and (label.is_fraud, label.source) == (True, "analyst")
        second = waiting[1]["alert"]["alert_id"]
        page.wait_for_function("(id) => document.getElementById('review-panel').dataset.alert === id",
                               arg=second, timeout=15_000)
        page.keyboard.press("j")  # skip it
        third = waiting[2]
        page.wait_for_function("(id) => document.getElementById('review-panel').dataset.alert === id",
                               arg=third["alert"]["alert_id"], timeout=15_000)
        page.keyboard.press("n")
        page.wait_for_function("(id) => !document.querySelector(`#review-queue [data-review=\"${id}\"]`)",
                               arg=third["alert"]["alert_id"], timeout=15_000)
        label = client.transaction(third["transaction"]["transaction_id"]).label
        assert label is not None and (label.is_fraud, label.source) == (False, "analyst")
        assert second in queued(page)  # skipped, still waiting
        assert [item["alert"]["alert_id"] for item in client.get("/v1/reviews", limit=100)["items"]] == [
            item["alert"]["alert_id"] for item in waiting if item is not first and item is not third]

        # A row of Latest alerts opens its alert, answered or not.
        page.click(f'#alerts tr[data-alert="{first["alert"]["alert_id"]}"]')
        page.wait_for_function("(id) => document.getElementById('review-panel').dataset.alert === id",
                               arg=first["alert"]["alert_id"], timeout=15_000)
        assert panel(page)["answered"] == "fraud (analyst)"

        # Highest score first.
        page.select_option("#review-order", "score")
        by_score = [item["alert"]["alert_id"] for item in client.get("/v1/reviews", order="score", limit=25)["items"]]
        page.wait_for_function("(ids) => [...document.querySelectorAll('#review-queue [data-review]')]"
                               ".map((i) => i.dataset.review).join() === ids.join()", arg=by_score, timeout=15_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#review").screenshot(path=str(ARTIFACTS / "dashboard-review.png"))
    assert not errors, errors
