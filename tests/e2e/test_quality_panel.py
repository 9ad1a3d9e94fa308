"""The dashboard's quality-over-time panel in a real browser (Debian's Chromium through Playwright), during a
small stream with labels arriving late: a line chart per live version, not a table (docs/quality.md)."""

from __future__ import annotations

from typing import Any

from fraudlog.client import FraudlogClient, stream
from fraudlog.config import Settings
from fraudlog.domain.events import DriftDetected
from fraudlog.monitoring.drift import detection_id
from fraudlog.store.drift import record_detection
from fraudlog.store.engine import create_engine
from tests.e2e.test_dashboard import ARTIFACTS, versions, wait_until_settled
from tests.support.api import served_api
from tests.support.models import SECRET, synthetic_rows

__all__ = ["versions"]  # the fixture: version 1 (hst) champion, version 2 (logreg) challenger
STREAMED = 600
LABELLED = 450

INKED = """(selector) => {
    const canvas = document.querySelector(selector + ' canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked += 1;
    return inked;
}"""


def bucket_starts(client: FraudlogClient, cut: str, live: list[int]) -> set[str]:
    name, value = cut.split("=")
    reports = [client.get(f"/v1/models/{v}/quality", **{name: value, "limit": 500}) for v in live]
    assert any(b["roc_auc"] is not None for r in reports for b in r["buckets"]), "nothing to plot"
    assert any(b["labelled_share"] == 0 for r in reports for b in r["buckets"]), "no bucket waits for labels"
    return {b["start"] for r in reports for b in r["buckets"]}


def test_the_quality_panel_plots_auc_and_label_completeness_per_live_version(versions: str, browser: Any) -> None:
    errors: list[str] = []
    settings = Settings(database_url=versions, secret_key=SECRET, alert_sink="memory://")
    with served_api(settings, background=True) as url:
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(url + "/?refresh=500")
        client = FraudlogClient(url)
        rows = synthetic_rows(STREAMED, seed=11)
        report = stream(client, rows[:LABELLED], batch_size=20, rate=300, label_delay_events=100)
        assert report.sent == LABELLED and not report.errors
        for begin in range(LABELLED, STREAMED, 50):  # the newest transactions: their labels have not come yet
            client.submit([body for body, _ in rows[begin:begin + 50]])
        assert wait_until_settled(client, STREAMED)["scored"] == STREAMED

        chart = "#chart-quality"
        page.wait_for_function(f"""() => {{
            const chart = document.querySelector('{chart}');
            return chart.dataset.versions === '1,2' && chart.querySelector('.u-legend')
                && chart.querySelector('.u-legend').innerText.includes('v2 AUC')
                && chart.dataset.cut === 'every=50' && Number(chart.dataset.points) >= 5;
        }}""", timeout=30_000)
        cut = page.get_attribute(chart, "data-cut") or ""
        # Every bucket the API gives either version is a point on the x axis (auto: at least 50 per bucket).
        page.wait_for_function(f"() => document.querySelector('{chart}').dataset.points === "
                               f"'{len(bucket_starts(client, cut, [1, 2]))}'", timeout=30_000)
        legend = page.inner_text(f"{chart} .u-legend")
        assert all(name in legend for name in ("v1 AUC", "v1 AP", "v1 labelled", "v2 AUC", "v2 AP", "v2 labelled"))
        assert page.evaluate(INKED, chart) > 5_000  # lines drawn, not an empty frame
        assert page.locator("#quality canvas").count() == 1  # a plot: the only table is uPlot's legend
        assert page.locator("#quality table:not(.u-legend)").count() == 0

        # A drift detection is marked where it falls in event time (docs/drift.md).
        record_detection(create_engine(versions), DriftDetected(
            id=detection_id(1, "performance", 300), position=300, model_version=1, signal="performance",
            detector="test", parameters={}, window=[1, 300], statistic=5.0, threshold=4.4, details={},
            action="none", why="recorded by the test"))
        assert client.get("/v1/drift")["items"][0]["event_time"] is not None
        page.wait_for_function(f"() => document.querySelector('{chart}').dataset.detections === '1'",
                               timeout=30_000)

        page.select_option("#quality-bucket", "1d")
        page.wait_for_function(f"() => document.querySelector('{chart}').dataset.cut === 'bucket=1d'",
                               timeout=30_000)
        page.wait_for_function(f"() => document.querySelector('{chart}').dataset.points === "
                               f"'{len(bucket_starts(client, 'bucket=1d', [1, 2]))}'", timeout=30_000)
        page.select_option("#quality-bucket", "auto")
        page.wait_for_function(f"() => document.querySelector('{chart}').dataset.cut === '{cut}'", timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#quality").screenshot(path=str(ARTIFACTS / "dashboard-quality.png"))
        client.close()
    assert not errors, errors
