"""The dashboard in a real browser (Debian's headless Chromium driven by Playwright) during a small stream.

Chromium is the system package (`apt-get install chromium`), never a browser that Playwright downloads.
Without it the browser tests fail under CI (`CI` set) and skip elsewhere. The screenshot is saved as
test-artifacts/dashboard.png.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraudlog.client import FraudlogClient, stream
from fraudlog.config import ApiKey, Settings
from fraudlog.domain.assignment import CHALLENGER
from fraudlog.lifecycle.roles import assign_role
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.engine import create_engine
from tests.support.api import served_api
from tests.support.models import SECRET, install_version, synthetic_rows

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STATIC = Path(__file__).resolve().parents[2] / "service" / "api" / "static"
STREAMED = 600

@pytest.fixture
def versions(sqlite_url: str) -> str:
    """Version 1 (hst) is the champion, version 2 (logreg) scores in shadow."""
    engine = create_engine(sqlite_url)
    install_version(engine)
    challenger = install_version(engine, model="logreg", promote=False)
    assign_role(ModelRegistry(engine, SECRET), challenger, CHALLENGER)
    engine.dispose()
    return sqlite_url


def wait_until_settled(client: FraudlogClient, expected: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = client.get("/v1/stats")
        done = stats["scored"] == expected and stats["backlog"]["count"] == 0 and stats["alerts"]["pending"] == 0
        if done or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


def shown(page: Any, stat: str) -> tuple[str, str]:
    node = page.locator(f'[data-stat="{stat}"]').first
    return node.get_attribute("data-value") or "", node.inner_text()


def test_the_page_and_its_assets_are_served_from_the_package(sqlite_url: str) -> None:
    with served_api(Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://")) as url:
        page = httpx.get(url + "/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
        assert {"/dashboard/uPlot.iife.min.js", "/dashboard/dashboard.js", "/dashboard/dashboard.css"} <= set(assets)
        for asset in assets:
            assert httpx.get(url + asset).status_code == 200, asset
    assert "http://" not in page.text and "https://" not in page.text  # nothing from another origin
    assert (STATIC / "uPlot.LICENSE").read_text().startswith("The MIT License")


def test_the_dashboard_draws_live_charts_and_shows_the_figures_of_v1_stats(versions: str, browser: Any) -> None:
    errors: list[str] = []
    settings = Settings(database_url=versions, secret_key=SECRET, alert_sink="memory://")
    with served_api(settings, background=True) as url:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(url + "/?refresh=500")
        client = FraudlogClient(url)
        report = stream(client, synthetic_rows(STREAMED, seed=11), batch_size=20, rate=200, label_delay_events=100)
        assert report.sent == STREAMED and not report.errors
        stats = wait_until_settled(client, STREAMED)
        assert stats["scored"] == STREAMED, stats

        page.wait_for_selector('body[data-ready="true"]', timeout=30_000)
        expected = {"events": stats["events"], "scored": stats["scored"], "backlog": stats["backlog"]["count"],
                    "labels": stats["labels"], "alerts-total": sum(stats["alerts"].values()),
                    "scoring-failures": stats["backlog"]["failed"]}
        page.wait_for_function(
            """(expected) => Object.entries(expected).every(([name, value]) =>
                document.querySelector(`[data-stat="${name}"]`).dataset.value === String(value))""",
            arg=expected, timeout=30_000)
        for stat, value in expected.items():
            raw, text = shown(page, stat)
            assert raw == str(value) and text.replace(",", "") == str(value), (stat, raw, text)
        page.wait_for_function("() => document.querySelector('#chart-auc .u-legend').innerText.includes('v2')",
                               timeout=30_000)

        charts = page.evaluate("""() => [...document.querySelectorAll('[data-chart]')].map((chart) => {
            const canvas = chart.querySelector('canvas');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked += 1;
            return {name: chart.dataset.chart, points: Number(chart.dataset.points), inked, width: canvas.width};
        })""")
        assert {c["name"] for c in charts} == {"throughput", "latency", "platform-latency", "backlog", "alerts",
                                               "auc"}
        for chart in charts:
            # Drawn: at least a line across the plot (a flat backlog at zero is one line, a few px thick).
            assert chart["points"] >= 3 and chart["inked"] > chart["width"], chart

        assert page.get_attribute('#models tr[data-version="1"]', "data-status") == "champion"
        assert page.get_attribute('#models tr[data-version="2"]', "data-status") == "challenger"
        alerts = sum(stats["alerts"].values())
        assert page.locator("#alerts tr[data-alert]").count() == min(10, alerts)
        assert page.get_attribute("#status", "data-state") == "live"

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        client.close()
    assert not errors, errors


def test_with_api_keys_the_page_asks_for_one_and_then_shows_the_figures(sqlite_url: str, browser: Any) -> None:
    key = "k-analyst-for-the-dashboard"
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://",
                        api_keys=(ApiKey("viewer", "analyst", key),))
    with served_api(settings) as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/?refresh=500")
        page.wait_for_selector("#auth:not([hidden])", timeout=15_000)
        assert page.get_attribute("#status", "data-state") == "error"
        page.fill("#auth-key", key)
        page.click("#auth button[type=submit]")
        page.wait_for_function("() => document.querySelector('[data-stat=\"events\"]').dataset.value === '0'",
                               timeout=15_000)
        page.wait_for_selector("#auth[hidden]", state="attached", timeout=15_000)
        page.wait_for_selector('#models tr.empty', timeout=15_000)  # no version yet: said, not blank
    assert not errors, errors


def test_try_a_transaction_scores_it_with_every_live_version(versions: str, browser: Any) -> None:
    errors: list[str] = []
    with served_api(Settings(database_url=versions, secret_key=SECRET, alert_sink="memory://")) as url:
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/?refresh=500")
        transaction = json.loads(page.input_value("#try-transaction"))
        page.click("#try button[type=submit]")
        page.wait_for_selector("#try-results tr[data-version]", timeout=15_000)
        rows = page.eval_on_selector_all("#try-results tr[data-version]", """(rows) => rows.map((row) =>
            [...row.querySelectorAll('td')].map((td) => td.textContent))""")
        with FraudlogClient(url) as client:
            compared = client.compare(transaction, "live")
        assert rows == [[f"v{c.model_version}", c.status, f"{c.score:.4f}", f"{c.threshold:.4f}",
                         "ALERT" if c.is_alert else "pass"] for c in compared]
        assert [r[:2] for r in rows] == [["v1", "champion"], ["v2", "challenger"]]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-try.png"), full_page=True)
        page.fill("#try-transaction", "{not json")
        page.click("#try button[type=submit]")
        page.wait_for_selector("#try-results tr.empty", timeout=15_000)
        assert "not JSON" in page.inner_text("#try-results")
    assert not errors, errors


def test_a_page_opened_after_a_run_and_reloaded_draws_the_runs_curves(versions: str, browser: Any) -> None:
    """The charts load their history from `/v1/stats/series`: a page that saw none of the run draws it."""
    errors: list[str] = []
    settings = Settings(database_url=versions, secret_key=SECRET, alert_sink="memory://")
    with served_api(settings, background=True) as url:
        client = FraudlogClient(url)
        report = stream(client, synthetic_rows(STREAMED, seed=12), batch_size=20, rate=200, label_delay_events=100)
        assert report.sent == STREAMED and not report.errors
        assert wait_until_settled(client, STREAMED)["scored"] == STREAMED
        series = client.get("/v1/stats/series?range=1h&step=10s")
        assert sum(p["scored_per_second"] for p in series["points"]) * series["step_seconds"] == STREAMED
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(url + "/?refresh=60000")  # one live poll: what is drawn is the history
        try:
            page.wait_for_selector('body[data-ready="true"]', state="attached", timeout=30_000)
        except Exception:
            raise AssertionError((errors, page.evaluate("() => document.body.dataset"))) from None
        page.reload()
        page.wait_for_selector('body[data-ready="true"]', state="attached", timeout=30_000)
        charts = page.evaluate("""() => [...document.querySelectorAll('[data-chart]')].map((chart) => {
            const canvas = chart.querySelector('canvas');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let inked = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked += 1;
            return {name: chart.dataset.chart, points: Number(chart.dataset.points), inked, width: canvas.width};
        })""")
        drawn = {c["name"]: c for c in charts}
        for name in ("throughput", "latency", "alerts"):
            assert drawn[name]["points"] >= 3 and drawn[name]["inked"] > drawn[name]["width"], drawn[name]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-after-reload.png"), full_page=True)
        client.close()
    assert not errors, errors
