"""Issue 12 item 4: no public or open output carries a full plate (PIPL; DESIGN.md "Data rules").

Every URL the platform serves outside the admin is listed in ``REQUESTS`` with the anonymous
requests that probe it: a new URL fails ``test_every_url_is_probed`` until it is added (and so
thought about). The probes run against a city holding plates everywhere — stays in a lot and at
its barrier, arrears on the public list, a ticket that names a plate in its words, a booking, an
anonymous order — and no response may contain one of them in full (raw, \\u-escaped, URL-escaped,
or its serial alone), except a plate the request itself supplied (``/api/v1/pay/due?plate=``
answers about the plate it was asked about).
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from apps.complaints import services as hotline
from apps.payments.models import ArrearsListing, ReminderRule
from apps.reservations.models import Reservation
from apps.sessions.models import ParkingSession
from tests.factories import UserFactory
from tests.factories_money import RuleFactory, arrears_of
from tests.factories_payments import Gate, flat_lot, stay_waiting
from tests.factories_reservations import SlotFactory

pytestmark = [pytest.mark.django_db, pytest.mark.midday]

LOT = "LX-PRIV1"
PARKED, WAITING, GONE, OWES, TICKET, BOOKED = "浙A7K3P9", "浙AQ8W2R", "浙AX5Z7M", "浙AM4N6T", "浙AH2J9K", "浙AU3V5Y"
PLATES = (PARKED, WAITING, GONE, OWES, TICKET, BOOKED)
PHONE = "13900001111"

# route pattern → the anonymous requests that probe it: (method, path, query or body). ``{…}`` is
# filled from the city the fixture builds.
REQUESTS: dict[str, list[tuple[str, str, dict]]] = {
    "": [("get", "/", {})],
    "favicon.ico": [("get", "/favicon.ico", {})],
    "healthz": [("get", "/healthz", {})],
    "readyz": [("get", "/readyz", {})],
    "metrics": [("get", "/metrics", {})],
    "i18n/setlang/": [("post", "/i18n/setlang/", {"language": "en", "next": "/map/"})],
    "api/v1/ingest/events": [("post", "/api/v1/ingest/events", {"events": []})],
    "api/v1/ingest/blacklist": [("get", "/api/v1/ingest/blacklist", {"lot": LOT})],
    "api/v1/staff/lots/": [("get", "/api/v1/staff/lots/", {})],
    "api/v1/staff/lots/<str:code>/": [("get", f"/api/v1/staff/lots/{LOT}/", {})],
    "api/v1/staff/reservations/stats": [("get", "/api/v1/staff/reservations/stats", {})],
    "api/v1/staff/sharing/stats": [("get", "/api/v1/staff/sharing/stats", {})],
    "api/v1/staff/tickets/": [("get", "/api/v1/staff/tickets/", {})],
    "api/v1/staff/tickets/<str:ticket_no>/": [("get", "/api/v1/staff/tickets/{ticket_no}/", {})],
    "api/v1/me/reservations": [("get", "/api/v1/me/reservations", {})],
    "api/v1/me/booking-suspensions": [("get", "/api/v1/me/booking-suspensions", {})],
    "api/v1/me/sharing": [("get", "/api/v1/me/sharing", {})],
    "api/v1/me/sharing/contracts/<int:pk>/end": [("post", "/api/v1/me/sharing/contracts/1/end", {})],
    "api/v1/me/sharing/contracts/<int:pk>/renew": [("post", "/api/v1/me/sharing/contracts/1/renew", {})],
    "api/v1/me/plates": [("get", "/api/v1/me/plates", {})],
    "api/v1/me/plates/<str:plate>": [("delete", "/api/v1/me/plates/" + quote(OWES), {})],
    "api/v1/me/plates/<str:plate>/export": [("get", f"/api/v1/me/plates/{quote(OWES)}/export", {})],
    "api/v1/me/sessions": [("get", "/api/v1/me/sessions", {})],
    "api/v1/me/arrears": [("get", "/api/v1/me/arrears", {})],
    "api/v1/me/orders": [("get", "/api/v1/me/orders", {})],
    "api/v1/me/complaints": [("get", "/api/v1/me/complaints", {})],
    "api/v1/me/agreements": [("get", "/api/v1/me/agreements", {})],
    "api/v1/me/agreements/<int:pk>/end": [("post", "/api/v1/me/agreements/1/end", {})],
    "api/v1/open/lots/<str:code>/occupancy": [("get", f"/api/v1/open/lots/{LOT}/occupancy", {})],
    "api/v1/open/ngsi-ld/OffStreetParking": [("get", "/api/v1/open/ngsi-ld/OffStreetParking", {})],
    "api/v1/open/ngsi-ld/OnStreetParking": [("get", "/api/v1/open/ngsi-ld/OnStreetParking", {})],
    "api/v1/open/lots.csv": [("get", "/api/v1/open/lots.csv", {})],
    "api/v1/reservations/hospitals/": [("get", "/api/v1/reservations/hospitals/", {})],
    "api/v1/reservations/": [("get", "/api/v1/reservations/", {}),
                             ("post", "/api/v1/reservations/", {"slot": "{slot}", "plate": BOOKED})],
    "api/v1/^reservations/(?P<pk>[0-9]{1,18})/?$": [("get", "/api/v1/reservations/{reservation}", {}),
                                                     ("delete", "/api/v1/reservations/{reservation}", {})],
    "api/v1/reservations/<int:pk>/qr.svg": [("get", "/api/v1/reservations/{reservation}/qr.svg", {})],
    "api/v1/sharing/offers": [("get", "/api/v1/sharing/offers", {})],
    "api/v1/sharing/applications": [("post", "/api/v1/sharing/applications", {"plate": BOOKED})],
    "api/v1/complaints/": [("post", "/api/v1/complaints/", {"category": "fee_dispute", "phone": PHONE,
                                                           "description": "收费不对", "lot": LOT, "plate": TICKET})],
    "api/v1/complaints/categories": [("get", "/api/v1/complaints/categories", {})],
    "api/v1/complaints/<str:ticket_no>": [("get", "/api/v1/complaints/{ticket_no}", {"phone_last4": PHONE[-4:]})],
    "api/v1/complaints/<str:ticket_no>/rating": [("post", "/api/v1/complaints/{ticket_no}/rating",
                                                  {"phone_last4": PHONE[-4:], "score": 5, "comment": "好"})],
    "api/v1/pay/due": [("get", "/api/v1/pay/due", {"lot": LOT, "plate": WAITING}),
                       ("get", "/api/v1/pay/due", {"lot": LOT, "plate": PARKED})],
    "api/v1/payments/orders": [("post", "/api/v1/payments/orders", {"session_ids": ["{waiting}"],
                                                                   "channel": "sandbox"})],
    "api/v1/payments/orders/<str:order_no>": [("get", "/api/v1/payments/orders/{order_no}", {})],
    "api/v1/payments/orders/<str:order_no>/cancel": [("post", "/api/v1/payments/orders/{order_no}/cancel", {})],
    "api/v1/arrears/public": [("get", "/api/v1/arrears/public", {})],
    "api/v1/wechat/miniprogram/login": [("post", "/api/v1/wechat/miniprogram/login", {"code": "x"})],
    "api/v1/lots/": [("get", "/api/v1/lots/", {}), ("get", "/api/v1/lots/", {"q": PARKED})],
    "api/v1/lots/nearest": [("get", "/api/v1/lots/nearest", {"lat": 31.57, "lon": 120.3})],
    "api/v1/lots/nearest/": [("get", "/api/v1/lots/nearest/", {"lat": 31.57, "lon": 120.3})],
    "api/v1/lots/<str:code>/": [("get", f"/api/v1/lots/{LOT}/", {})],
    "api/v1/map/lots.geojson": [("get", "/api/v1/map/lots.geojson", {})],
    "api/v1/fees/quote": [("get", "/api/v1/fees/quote", {"lot": LOT, "entry": "2026-03-17T09:00:00+08:00",
                                                         "exit": "2026-03-17T11:00:00+08:00"})],
    "payments/notify/<str:provider>/": [("post", "/payments/notify/sandbox/", {"order_no": "{order_no}"})],
    "open311/v2/discovery.json": [("get", "/open311/v2/discovery.json", {})],
    "open311/v2/services.json": [("get", "/open311/v2/services.json", {})],
    "open311/v2/services/<str:code>.json": [("get", "/open311/v2/services/fee_dispute.json", {})],
    "open311/v2/requests.json": [("get", "/open311/v2/requests.json", {}),
                                 ("post", "/open311/v2/requests.json", {
                                     "api_key": "{api_key}", "service_code": "fee_dispute", "lat": 31.57,
                                     "long": 120.3, "description": f"{TICKET} 乱停", "attribute[plate]": TICKET,
                                     "phone": PHONE})],
    "open311/v2/requests/<str:request_id>.json": [("get", "/open311/v2/requests/{ticket_no}.json", {})],
    "hotline/": [("get", "/hotline/", {})],
    "hotline/track/": [("get", "/hotline/track/", {"ticket_no": "{ticket_no}", "phone_last4": PHONE[-4:]})],
    "wechat/": [("get", "/wechat/", {"signature": "x", "timestamp": "1", "nonce": "n", "echostr": "e"}),
                ("post", "/wechat/", {})],
    "wechat/oauth/": [("get", "/wechat/oauth/", {"next": "/me/"})],
    "wechat/oauth/callback/": [("get", "/wechat/oauth/callback/", {"code": "x", "state": "y"})],
    "me/": [("get", "/me/", {})],
    "api/schema/": [("get", "/api/schema/", {})],
    "api/docs/": [("get", "/api/docs/", {})],
    "pay/cashier/<str:order_no>/": [("get", "/pay/cashier/{order_no}/", {})],
    "pay/orders/<str:order_no>/qr.svg": [("get", "/pay/orders/{order_no}/qr.svg", {})],
    "pay/<str:code>/": [("get", f"/pay/{LOT}/", {}), ("get", f"/pay/{LOT}/", {"plate": WAITING})],
    "map/": [("get", "/map/", {})],
    "map/lots/<str:code>/navigate/": [("get", f"/map/lots/{LOT}/navigate/", {})],
    "reservations/": [("get", "/reservations/", {})],
}


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def served_routes() -> set[str]:
    return {route for route in _walk(get_resolver().url_patterns) if not route.startswith("admin/")}


def test_every_url_is_probed():
    """A URL the platform serves and this test does not probe fails here: list it in REQUESTS."""
    assert served_routes() == set(REQUESTS)


@pytest.fixture
def city_with_plates(city, settings):
    settings.PAYMENT_SANDBOX = True
    lot = flat_lot(code=LOT)
    gate = Gate(lot)
    now = timezone.now()
    gate.enter(PARKED, at=now - timedelta(hours=2))
    waiting = stay_waiting(gate, WAITING)
    gate.enter(GONE, at=now - timedelta(hours=3))
    gate.exit(GONE, at=now - timedelta(hours=2))
    ParkingSession.objects.filter(plate=GONE).update(state="closed", release_reason="paid")
    arrears_of(gate, OWES, days_ago=40)
    ArrearsListing.objects.create(plate=OWES, rule=RuleFactory(action=ReminderRule.Action.PUBLIC_LIST),
                                  listed_at=now)
    ticket = hotline.ticket_create(channel="web", category="fee_dispute", phone=PHONE, lot=lot, plate=TICKET,
                                   description=f"{TICKET} 堵住出口，车主电话 13812345678")
    hotline.ticket_dispatch(ticket=ticket)
    slot = SlotFactory(hospital__lot=lot)
    reservation = Reservation.objects.create(
        code="R7Q2K9", slot=slot, hospital=slot.hospital, lot=lot, day=timezone.localdate(slot.starts_at),
        user=UserFactory(), plate=BOOKED, arrive_from=slot.starts_at - timedelta(minutes=30),
        arrive_until=slot.starts_at + timedelta(minutes=30), created_at=now)
    _key, api_key = hotline.open311_key_issue(name="城市大脑")
    return {"ticket_no": ticket.ticket_no, "slot": slot.pk, "reservation": reservation.pk, "waiting": waiting.pk,
            "api_key": api_key, "order_no": "none-yet"}


def _fill(value, names: dict):
    if isinstance(value, str):
        for key, filled in names.items():
            if value == "{" + key + "}":
                return filled
            value = value.replace("{" + key + "}", str(filled))
        return value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def leaks(text: str, supplied: str) -> list[str]:
    found = []
    for plate in PLATES:
        if plate in supplied:
            continue
        forms = (plate, plate.encode("unicode_escape").decode(), quote(plate), plate[2:])
        found += [f"{plate} as {form!r}" for form in forms if form in text or form.lower() in text]
    return found


def probe(client, method: str, path: str, data: dict):
    if method == "get":
        return client.get(path, data)
    if method == "post" and path.startswith(("/i18n/", "/open311/", "/wechat/")):
        return client.post(path, data)
    return getattr(client, method)(path, json.dumps(data), content_type="application/json")


def test_no_public_output_carries_a_full_plate(client, city_with_plates):
    names = dict(city_with_plates)
    # the anonymous order for the waiting stay (as the pay page makes it): its number opens the rest
    made = client.post("/api/v1/payments/orders", {"session_ids": [names["waiting"]], "channel": "sandbox"},
                       content_type="application/json")
    assert made.status_code in (200, 201), made.content
    names["order_no"] = made.json()["order_no"]
    answered = {}
    ordered = sorted(REQUESTS.items(), key=lambda item: "cancel" in item[0])  # cancel the order last
    for route, requests in ordered:
        for method, path, data in requests:
            path, data = _fill(path, names), _fill(data, names)
            response = probe(client, method, path, data)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode("utf-8", errors="replace") + " " + response.get("Location", "")
            supplied = path + json.dumps(data, ensure_ascii=False)
            assert not leaks(text, supplied), (route, method, path, response.status_code, leaks(text, supplied))
            answered[(route, method)] = response.status_code
    # the probes reached real answers, not only refusals: what the public sees was really looked at
    assert answered[("api/v1/pay/due", "get")] == 200
    assert answered[("api/v1/arrears/public", "get")] == 200
    assert answered[("open311/v2/requests.json", "get")] == 200
    assert answered[("api/v1/complaints/<str:ticket_no>", "get")] == 200
    assert answered[("hotline/track/", "get")] == 200
    assert answered[("pay/cashier/<str:order_no>/", "get")] == 200
    assert answered[("api/v1/payments/orders/<str:order_no>", "get")] == 200
    public = client.get("/api/v1/arrears/public").json()["results"]
    assert [row["plate"] for row in public] == ["浙A***6T"]  # listed, and masked


def test_pay_due_answers_only_about_the_plate_asked(client, city_with_plates):
    body = client.get("/api/v1/pay/due", {"lot": LOT, "plate": WAITING}).json()
    assert body["plate"] == WAITING and not leaks(json.dumps(body, ensure_ascii=False), WAITING)
