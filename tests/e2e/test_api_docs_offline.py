"""`/schema` renders in a real browser that can reach no host but the API: Swagger UI draws every operation
from the files the API serves itself (Debian's headless Chromium, as in test_dashboard.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fraudlog.config import Settings
from tests.support.api import served_api


def test_swagger_ui_renders_every_operation_with_no_host_but_the_api(browser: Any, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fraudlog.db'}", secret_key=b"k")
    with served_api(settings) as base:
        page = browser.new_page()
        elsewhere: list[str] = []

        def only_the_api(route: Any) -> None:
            url = route.request.url
            if urlsplit(url).netloc == urlsplit(base).netloc:
                route.continue_()
            else:  # what an air-gapped network does to a CDN request
                elsewhere.append(url)
                route.abort()

        page.route("**/*", only_the_api)
        page.goto(f"{base}/schema")
        page.wait_for_selector(".opblock", timeout=30_000)
        shown = page.locator(".opblock-summary-path").all_inner_texts()
        page.close()
    assert elsewhere == []
    assert {"/v1/transactions", "/v1/labels", "/v1/predict", "/v1/models/{version}/promote"} <= {
        text.replace("\u200b", "").strip() for text in shown}
