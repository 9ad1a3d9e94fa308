"""The headless browser the e2e tests drive: Debian's Chromium through Playwright (never one it downloads)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("FRAUDLOG_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_browser() -> Any:
    """The Playwright module, or fail under CI / skip elsewhere when it or Chromium is missing."""
    problem = None
    try:
        from playwright import sync_api
    except ImportError as exc:
        problem = f"the playwright package is not installed ({exc})"
    if problem is None and not CHROMIUM.exists():
        problem = f"Chromium is not at {CHROMIUM} (apt-get install chromium)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem + "; CI must install it (see .ci/run)", pytrace=False)
        pytest.skip(problem)
    return sync_api


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = require_browser()
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
