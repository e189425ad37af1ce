"""The browser tests here drive chromium as tests/browser does (its fixture and its skip-or-fail rule)."""

from tests.browser.conftest import chromium, pytest_runtest_setup  # noqa: F401
