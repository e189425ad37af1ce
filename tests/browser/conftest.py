"""The real-browser tests drive Debian's chromium (installed by .ci/run) through Playwright.

Like the service markers in tests/conftest.py: without chromium a ``browser`` test is skipped
locally and fails under CI=true, so CI never passes by skipping it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.playwright_db import close_connections_of_this_context

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser") and not CHROMIUM.exists():
        reason = f"needs Debian's chromium at {CHROMIUM}"
        if CI:
            pytest.fail(f"{reason} (CI=true: a required service must be present)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            close_connections_of_this_context()
