"""CSP and the other security headers (apps/common/security.py, Django's SecurityMiddleware)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


@pytest.mark.parametrize("path", ["/map/", "/hotline/", "/api/v1/lots/", "/admin/login/"])
def test_every_page_and_api_answer_carries_the_headers(client, city, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no nonce where none was asked for
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "https://tile.openstreetmap.org" in policy["img-src"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=(self)" in response["Permissions-Policy"]


def test_tianditu_tiles_are_allowed_when_the_map_uses_them():
    from wuxi_parking.settings import base

    base.MAP_TILES, before = "tianditu", base.MAP_TILES
    try:
        assert "https://*.tianditu.gov.cn" in base._tile_hosts()
    finally:
        base.MAP_TILES = before
    assert "https://*.tianditu.gov.cn" not in settings.CSP_DIRECTIVES["img-src"]


def test_an_inline_style_carries_the_nonce_its_response_names(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    nonces = re.findall(r'<(?:style|script) nonce="([^"]+)">', page.content.decode())
    assert len(nonces) == 2 and len(set(nonces)) == 1  # the inline style and the Swagger init script
    assert f"'nonce-{nonces[0]}'" in _policy(page)["style-src"]
    assert f"'nonce-{nonces[0]}'" in _policy(page)["script-src"]
    assert "<script>" not in page.content.decode()
    # a fresh nonce each response
    assert re.findall(r'<style nonce="([^"]+)">', client.get("/api/docs/").content.decode()) != nonces[:1]


def test_report_only_mode_sends_the_policy_under_its_own_header(client, city):
    with override_settings(CSP_REPORT_ONLY=True):
        response = client.get("/map/")
    assert "Content-Security-Policy" not in response
    assert "default-src 'self'" in response["Content-Security-Policy-Report-Only"]


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>",
                            re.I)
_INLINE_STYLE = re.compile(r"<style(?![^>]*\bnonce=)[^>]*>", re.I)
_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)


def _templates():
    roots = [Path(settings.BASE_DIR) / "templates", *Path(settings.BASE_DIR, "apps").glob("*/templates")]
    return [path for root in roots for path in root.rglob("*.html")]


def test_no_template_has_an_inline_script_style_or_handler_without_the_nonce():
    found = []
    for path in _templates():
        text = path.read_text()
        for pattern in (_INLINE_SCRIPT, _INLINE_STYLE, _HANDLER):
            found += [f"{path.relative_to(settings.BASE_DIR)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert found == []
    assert len(_templates()) > 10  # the walk found the templates
