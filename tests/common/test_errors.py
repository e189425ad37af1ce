"""Every API error has SPEC §1's body: 404s (DRF and URL resolution), validation, 405, pages, 500."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import DatabaseError
from django.test import Client, override_settings
from django.urls import include, path
from rest_framework.views import APIView

from apps.common.errors import Conflict
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

SECRET_SQL = "SELECT secret_encrypted FROM lots_device WHERE access_key = 'AK-LEAK'"


class _BoomAPIView(APIView):
    authentication_classes: list = []

    def get(self, request):
        raise DatabaseError(SECRET_SQL)


class _ConflictAPIView(APIView):
    authentication_classes: list = []

    def get(self, request):
        raise Conflict("名额已满", code="slot_full", field="slot", details={"slot": 7})


def _boom_plain_view(request):
    raise RuntimeError(SECRET_SQL)


# This module is also the URLconf of the tests that need views that fail on purpose.
urlpatterns = [
    path("api/v1/test/boom", _BoomAPIView.as_view()),
    path("api/v1/test/boom-plain", _boom_plain_view),
    path("api/v1/test/conflict", _ConflictAPIView.as_view()),
    path("", include("wuxi_parking.urls")),
]
handler404 = "wuxi_parking.urls.not_found"
handler500 = "wuxi_parking.urls.server_error"
URLCONF = __name__


def _spec_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def test_tests_run_with_debug_off():
    # handler404/handler500 are only used with DEBUG off, as in production.
    assert settings.DEBUG is False


@pytest.mark.parametrize("url", ["/api/v1/no-such-thing/", "/api/v1/lots/X/extra/", "/api/nothing", "/api/v1/open/x"])
def test_unknown_url_under_api_is_a_json_404(api_client, url):
    _spec_error(api_client.get(url), 404, "not_found")


@pytest.mark.parametrize("url", ["/api/v1/nope", "/api/v1/lots/x/y/", "/api/", "/api/v1/ingest/events/"])
def test_unknown_url_under_api_is_a_json_404_with_debug_on_too(url):
    # With DEBUG on Django answers an unmatched path with its technical HTML page, never handler404.
    with override_settings(DEBUG=True):
        _spec_error(Client().get(url), 404, "not_found")
        assert "text/html" in Client().get("/no-such-page/")["Content-Type"]  # outside /api/ nothing changes


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_method_a_plain_view_refuses_is_a_json_405(city, debug, method):
    # lots/nearest/ (a redirect to lots/nearest) is not a DRF view: Django itself answers the 405.
    with override_settings(DEBUG=debug):
        response = getattr(Client(), method)("/api/v1/lots/nearest/?lat=31.5&lon=120.3")
    error = _spec_error(response, 405, "method_not_allowed")
    assert method.upper() in error["message"]
    assert "GET" in response["Allow"]


def test_a_read_of_the_trailing_slash_path_is_still_redirected(api_client, city):
    response = api_client.get("/api/v1/lots/nearest/?lat=31.5&lon=120.3")
    assert response.status_code == 302
    assert response["Location"] == "/api/v1/lots/nearest?lat=31.5&lon=120.3"


@pytest.mark.parametrize(("url", "accept"), [
    ("/api/v1/map/lots.geojson?kind=x", "application/geo+json"),
    ("/api/v1/map/lots.geojson?kind=x", "*/*"),
    ("/api/v1/open/ngsi-ld/OffStreetParking?limit=0", "application/ld+json"),
])
def test_an_error_from_a_geojson_or_json_ld_endpoint_is_plain_json(api_client, city, url, accept):
    response = api_client.get(url, HTTP_ACCEPT=accept)
    _spec_error(response, 400, response.json()["error"]["code"])
    assert response["Content-Type"] == "application/json"


def test_unknown_url_elsewhere_is_an_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_unknown_lot_is_404(api_client, city):
    error = _spec_error(api_client.get("/api/v1/lots/GHOST/"), 404, "not_found")
    assert error["details"] == {"code": "GHOST"}


def test_validation_error_names_the_field(api_client, city):
    error = _spec_error(api_client.get("/api/v1/lots/", {"bbox": "1,2,3"}), 400, "invalid")
    assert error["details"]["field"] == "bbox"
    assert error["message"].startswith("bbox: ")
    assert "bbox" in error["details"]["fields"]


def test_a_missing_parameter_is_named(api_client, city):
    error = _spec_error(api_client.get("/api/v1/lots/nearest", {"lon": 120.3}), 400, "invalid")
    assert error["details"]["field"] == "lat"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_method_not_allowed_is_405(api_client, city, method):
    response = getattr(api_client, method)("/api/v1/lots/", {}, format="json")
    error = _spec_error(response, 405, "method_not_allowed")
    assert method.upper() in error["message"]


def test_invalid_page_is_400(api_client, city):
    LotFactory()
    assert _spec_error(api_client.get("/api/v1/lots/", {"page": "x"}), 400, "invalid")["details"]["field"] == "page"


@pytest.mark.urls(URLCONF)
def test_domain_error_keeps_its_code_status_and_details(api_client):
    error = _spec_error(api_client.get("/api/v1/test/conflict"), 409, "slot_full")
    assert error["message"] == "名额已满"
    assert error["details"] == {"slot": 7, "field": "slot"}


@pytest.mark.urls(URLCONF)
def test_server_error_in_an_api_view_leaks_nothing(api_client, caplog):
    response = api_client.get("/api/v1/test/boom")
    error = _spec_error(response, 500, "server_error")
    assert error["details"] == {}
    text = response.content.decode()
    for leak in ("SELECT", "secret", "AK-LEAK", "Traceback", "DatabaseError", ".py"):
        assert leak not in text
    # ...but the operators see it in the log.
    assert any("AK-LEAK" in record.getMessage() or "AK-LEAK" in str(record.exc_info) for record in caplog.records)


@pytest.mark.urls(URLCONF)
def test_server_error_outside_drf_under_api_is_json_without_details():
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/test/boom-plain")
    _spec_error(response, 500, "server_error")
    text = response.content.decode()
    for leak in ("SELECT", "secret", "AK-LEAK", "Traceback", "RuntimeError"):
        assert leak not in text

