"""wuxi_parking/urls.py and wuxi_parking/audiences: one URL module per audience, every path and name kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from apps.common.api.citizen import CITIZEN_AUTHENTICATION, IsCitizen
from apps.common.api.scope import IsStaff
from apps.sessions.auth import DeviceSignatureAuthentication, IsSignedDevice

# (module, mount): where each audience's routes live, as STYLE.md and SPEC fix them.
AUDIENCES = {
    "wuxi_parking.audiences.public": "api/v1/",
    "wuxi_parking.audiences.citizen": "api/v1/me/",
    "wuxi_parking.audiences.ingest": "api/v1/ingest/",
    "wuxi_parking.audiences.staff": "api/v1/staff/",
    "wuxi_parking.audiences.providers": "payments/notify/",
}

# Every named route with the path SPEC (or the README) gives it: moving URL modules changes neither.
ROUTES = [
    ("lot-list", {}, "/api/v1/lots/"),
    ("lot-nearest", {}, "/api/v1/lots/nearest"),
    ("lot-detail", {"code": "LX-0001"}, "/api/v1/lots/LX-0001/"),
    ("map-lots-geojson", {}, "/api/v1/map/lots.geojson"),
    ("fee-quote", {}, "/api/v1/fees/quote"),
    ("open-ngsi-offstreet", {}, "/api/v1/open/ngsi-ld/OffStreetParking"),
    ("open-ngsi-onstreet", {}, "/api/v1/open/ngsi-ld/OnStreetParking"),
    ("open-lots-csv", {}, "/api/v1/open/lots.csv"),
    ("open-lot-occupancy", {"code": "LX-0001"}, "/api/v1/open/lots/LX-0001/occupancy"),
    ("ingest-events", {}, "/api/v1/ingest/events"),
    ("reservation-hospitals", {}, "/api/v1/reservations/hospitals/"),
    ("reservation-list", {}, "/api/v1/reservations/"),
    ("reservation-qr", {"pk": 7}, "/api/v1/reservations/7/qr.svg"),
    ("sharing-offers", {}, "/api/v1/sharing/offers"),
    ("sharing-applications", {}, "/api/v1/sharing/applications"),
    ("me-reservations", {}, "/api/v1/me/reservations"),
    ("me-sharing", {}, "/api/v1/me/sharing"),
    ("me-plates", {}, "/api/v1/me/plates"),
    ("me-plate-detail", {"plate": "苏B12345"}, "/api/v1/me/plates/%E8%8B%8FB12345"),
    ("me-sessions", {}, "/api/v1/me/sessions"),
    ("me-arrears", {}, "/api/v1/me/arrears"),
    ("wechat-miniprogram-login", {}, "/api/v1/wechat/miniprogram/login"),
    ("wechat:webhook", {}, "/wechat/"),
    ("staff-lot-list", {}, "/api/v1/staff/lots/"),
    ("staff-lot-detail", {"code": "LX-0001"}, "/api/v1/staff/lots/LX-0001/"),
    ("schema", {}, "/api/schema/"),
    ("api-docs", {}, "/api/docs/"),
    ("realtime:map", {}, "/map/"),
    ("realtime:lot-navigate", {"code": "LX-0001"}, "/map/lots/LX-0001/navigate/"),
    ("pay-due", {}, "/api/v1/pay/due"),
    ("payment-order-create", {}, "/api/v1/payments/orders"),
    ("payment-order-detail", {"order_no": "A1"}, "/api/v1/payments/orders/A1"),
    ("payment-order-cancel", {"order_no": "A1"}, "/api/v1/payments/orders/A1/cancel"),
    ("payments-notify", {"provider": "wechat"}, "/payments/notify/wechat/"),
    ("payments:pay-page", {"code": "LX-0001"}, "/pay/LX-0001/"),
]


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        else:
            yield route, entry


def _audience(module: str) -> list[tuple[str, URLPattern]]:
    (resolver,) = [p for p in get_resolver().url_patterns
                   if isinstance(p, URLResolver) and getattr(p.urlconf_module, "__name__", None) == module]
    return list(_walk(resolver.url_patterns, str(resolver.pattern)))


def _drf_view(pattern: URLPattern) -> type[APIView] | None:
    view = getattr(pattern.callback, "cls", None)
    return view if isinstance(view, type) and issubclass(view, APIView) else None


@pytest.mark.parametrize(("name", "kwargs", "path"), ROUTES, ids=[name for name, _, _ in ROUTES])
def test_every_route_keeps_its_path_and_name(name, kwargs, path):
    assert reverse(name, kwargs=kwargs or None) == path
    assert resolve(path).view_name == name


@pytest.mark.parametrize(("module", "mount"), AUDIENCES.items(), ids=list(AUDIENCES))
def test_each_audience_is_mounted_once_at_its_prefix(module, mount):
    mounts = [str(p.pattern) for p in get_resolver().url_patterns
              if isinstance(p, URLResolver) and getattr(p.urlconf_module, "__name__", None) == module]
    assert mounts == [mount]


def test_every_api_route_is_served_through_an_audience_module():
    """No app's URLs are mounted under /api/v1/ or /payments/ directly: an audience decides who may call."""
    stray = []
    for entry in get_resolver().url_patterns:
        route = str(entry.pattern)
        if route.startswith(("api/v1/", "payments/")):
            module = getattr(getattr(entry, "urlconf_module", None), "__name__", None)
            if module not in AUDIENCES:
                stray.append((route, module))
    assert not stray


def test_the_audiences_together_serve_every_route_they_did_before():
    served = {route for module in AUDIENCES for route, _ in _audience(module)}
    assert {
        "api/v1/lots/", "api/v1/lots/nearest", "api/v1/lots/nearest/", "api/v1/lots/<str:code>/",
        "api/v1/map/lots.geojson", "api/v1/fees/quote", "api/v1/open/ngsi-ld/OffStreetParking",
        "api/v1/open/ngsi-ld/OnStreetParking", "api/v1/open/lots.csv", "api/v1/ingest/events",
        "api/v1/staff/lots/", "api/v1/staff/lots/<str:code>/",
    } <= served


def test_public_routes_need_no_login():
    routes = _audience("wuxi_parking.audiences.public")
    assert routes
    for route, pattern in routes:
        view = _drf_view(pattern)
        if view is None:  # the nearest/ redirect: plain Django, no authentication at all
            continue
        if IsCitizen in view.permission_classes:
            # SPEC §8.3 puts a citizen's writes under /api/v1/ (booking, applying): a login, never staff's
            assert list(view.authentication_classes) == CITIZEN_AUTHENTICATION, route
            continue
        # Paying needs no login but takes one when given (SPEC §8.1: arrears, a citizen's own orders).
        if not getattr(view, "optional_login", False):
            assert list(view.authentication_classes) == [], route
        assert all(issubclass(p, AllowAny) for p in view.permission_classes), route


def test_citizen_routes_admit_only_a_login():
    routes = _audience("wuxi_parking.audiences.citizen")
    assert routes
    for route, pattern in routes:
        view = _drf_view(pattern)
        assert view is not None, route
        assert list(view.authentication_classes) == CITIZEN_AUTHENTICATION, route
        assert IsCitizen in view.permission_classes, route


def test_staff_routes_admit_only_staff():
    routes = _audience("wuxi_parking.audiences.staff")
    assert routes
    for route, pattern in routes:
        view = _drf_view(pattern)
        assert view is not None, route
        assert IsStaff in view.permission_classes, route


def test_ingest_routes_admit_only_signed_devices():
    routes = _audience("wuxi_parking.audiences.ingest")
    assert routes
    for route, pattern in routes:
        view = _drf_view(pattern)
        assert view is not None, route
        assert list(view.authentication_classes) == [DeviceSignatureAuthentication], route
        assert IsSignedDevice in view.permission_classes, route


@pytest.mark.django_db
def test_staff_routes_answer_401_with_the_error_body_without_a_login(client):
    for route, _pattern in _audience("wuxi_parking.audiences.staff"):
        response = client.get("/" + route.replace("<str:code>", "LX-0001"))
        assert response.status_code == 401, route
        assert set(response.json()["error"]) >= {"code", "message"}, route


@pytest.mark.django_db
def test_an_unknown_path_under_an_audience_answers_the_json_404(client):
    """SPEC §1's body, not an HTML page."""
    response = client.get("/api/v1/me/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_citizen_routes_answer_401_with_the_error_body_without_a_login(client):
    for route, _pattern in _audience("wuxi_parking.audiences.citizen"):
        response = client.get("/" + route.replace("<str:plate>", "苏B12345").replace("<int:pk>", "1"))
        assert response.status_code == 401, route
        assert set(response.json()["error"]) >= {"code", "message"}, route


def test_favicon_ico_leads_to_the_platform_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/favicon-32.png")
