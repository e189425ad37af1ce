"""No stack trace, SQL or secret ever reaches a client (SPEC §1): with DEBUG off, a view that raises
answers SPEC §1's 500 body under /api/ and a plain error page elsewhere."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tests.security.raising_urls import SECRET

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.raising_urls")]


def _leaks(text: str) -> list[str]:
    return [marker for marker in ("Traceback", "RuntimeError", "hunter2", SECRET, "raising_urls", 'File "')
            if marker in text]


@override_settings(DEBUG=False)
@pytest.mark.parametrize("path", ["/api/v1/test-fail/drf", "/api/v1/test-fail/plain"])
def test_an_api_view_that_raises_answers_the_spec_500_body_and_nothing_else(path):
    response = Client(raise_request_exception=False).get(path)
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "server_error", "message": "服务器内部错误 / internal server error",
                                         "details": {}}}
    assert _leaks(response.content.decode()) == []


@override_settings(DEBUG=False)
def test_a_page_that_raises_answers_a_plain_error_page():
    response = Client(raise_request_exception=False).get("/hotline/test-fail")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert _leaks(response.content.decode()) == []
    assert "Content-Security-Policy" in response  # the error page carries the headers too
