"""The CSP in a real chromium: the map (Leaflet, its tiles, the WebSocket), the hotline page and the API
docs run with no Content-Security-Policy violation."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

import pytest

from tests.browser.test_map import PHONE, TARGET, map_city  # noqa: F401  (the fixture)
from tests.realtime.live import live_servers, process_options, shared_database_name

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A 1x1 PNG standing in for every tile: the request reaching the network at all means the CSP let it go.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                         "AAAABJRU5ErkJggg==")

# Recorded before any script of the page runs: every violation, with the directive and what it refused.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  `${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def server(map_city, tmp_path):  # noqa: F811
    with live_servers(1, process_options(shared_database_name(tmp_path))) as (live,):
        yield live


def test_the_map_hotline_and_docs_run_under_the_csp_without_a_violation(map_city, server, chromium):  # noqa: F811
    context = chromium.new_context(**PHONE)
    context.add_init_script(RECORD_VIOLATIONS)
    tiles: list[str] = []

    def closed_network(route):
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            route.continue_()
        elif host.endswith("tile.openstreetmap.org"):
            tiles.append(route.request.url)
            route.fulfill(status=200, content_type="image/png", body=PIXEL)
        else:
            route.abort()

    context.route("**/*", closed_network)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and console.append(m.text))

    response = page.goto(f"{server.url}/map/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.locator(f'.pin[data-code="{TARGET}"]').wait_for(timeout=15_000)
    page.locator("#live.live--live").wait_for(timeout=5_000)  # the WebSocket connected under connect-src
    page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile-loaded').length > 0", timeout=10_000)
    assert tiles  # the tiles were let through to the (faked) tile server
    page.locator(f'.pin[data-code="{TARGET}"]').click()
    page.locator(f'.card[data-code="{TARGET}"]').wait_for(timeout=5_000)
    assert page.evaluate("window.__csp") == []

    for path, ready in (("/hotline/", "form"), ("/api/docs/", ".swagger-ui .info")):
        page.goto(f"{server.url}{path}")
        page.locator(ready).first.wait_for(timeout=15_000)
        assert page.evaluate("window.__csp") == [], path
    assert console == []
    context.close()
