"""SPEC §8.3 to the letter: hospitals and slots, booking with a login (session or token), its
error codes and bodies, cancelling, the QR code, my reservations, and sharing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.reservations import services
from apps.reservations.models import Reservation, SharingApplication, Slot, Suspension
from tests.factories import UserFactory
from tests.factories_reservations import HospitalFactory, SharingOfferFactory, SlotFactory

pytestmark = pytest.mark.django_db


def tomorrow(hour: int):
    return (timezone.localtime() + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture
def authed(api_client, citizen):
    token = Token.objects.create(user=citizen)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api_client


def test_hospitals_list_their_bookable_slots_with_what_remains(api_client, hospital, citizen):
    slot = SlotFactory(hospital=hospital, starts_at=tomorrow(9), quota=3)
    SlotFactory(hospital=hospital, starts_at=tomorrow(9) + timedelta(days=30))  # past the 7-day window
    SlotFactory(hospital=hospital, starts_at=timezone.now() - timedelta(hours=1))  # begun
    services.reservation_book(user=citizen, slot_id=slot.pk, plate="苏B12345")
    HospitalFactory(active=False)
    response = api_client.get("/api/v1/reservations/hospitals/")
    assert response.status_code == 200
    (site,) = response.json()
    assert {"id", "name", "lot_code", "slots"} <= set(site)
    assert (site["id"], site["name"], site["lot_code"]) == (hospital.pk, hospital.name, hospital.lot.code)
    (shown,) = site["slots"]
    assert {"id", "starts_at", "ends_at", "quota", "remaining"} <= set(shown)
    assert (shown["id"], shown["quota"], shown["remaining"]) == (slot.pk, 3, 2)
    assert shown["starts_at"] == timezone.localtime(slot.starts_at).isoformat()


def test_the_hospital_list_costs_the_same_queries_for_many_sites(api_client, city):
    for _ in range(2):
        SlotFactory(starts_at=tomorrow(9))
    with CaptureQueriesContext(connection) as few:
        api_client.get("/api/v1/reservations/hospitals/")
    for _ in range(10):
        hospital = HospitalFactory()
        for hour in (9, 10, 11):
            SlotFactory(hospital=hospital, starts_at=tomorrow(hour))
    with CaptureQueriesContext(connection) as many:
        response = api_client.get("/api/v1/reservations/hospitals/")
    assert len(response.json()) == 12
    assert len(many) == len(few) == 2


def test_the_hospital_list_refuses_an_unknown_parameter(api_client, db):
    response = api_client.get("/api/v1/reservations/hospitals/?radius=3")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "unknown_parameter")


def test_booking_with_a_token_answers_201_in_specs_shape(authed, slot):
    response = authed.post("/api/v1/reservations/", {"slot": slot.pk, "plate": "苏B12345"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "code", "slot", "plate", "state", "arrive_from", "arrive_until"} <= set(body)
    stored = Reservation.objects.get()
    assert (body["id"], body["code"], body["slot"], body["plate"], body["state"]) == (
        stored.pk, stored.code, slot.pk, "苏B12345", "booked")
    assert body["arrive_from"] == timezone.localtime(slot.starts_at - timedelta(hours=1)).isoformat()
    assert body["arrive_until"] == timezone.localtime(slot.starts_at + timedelta(minutes=30)).isoformat()


def test_booking_with_a_session_works_too(client, citizen, slot):
    client.force_login(citizen)
    response = client.post("/api/v1/reservations/", {"slot": slot.pk, "plate": "苏B12345"},
                           content_type="application/json")
    assert response.status_code == 201


def test_booking_without_a_login_is_401(api_client, slot):
    response = api_client.post("/api/v1/reservations/", {"slot": slot.pk, "plate": "苏B12345"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not Reservation.objects.exists()


def _error(response):
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return response.status_code, body["error"]["code"]


def test_a_full_slot_and_a_duplicate_are_409(authed, bound, hospital, citizen):
    full = SlotFactory(hospital=hospital, starts_at=tomorrow(9), quota=1)
    other = bound.bind(UserFactory(), "苏B99999")
    services.reservation_book(user=other, slot_id=full.pk, plate="苏B99999")
    assert _error(authed.post("/api/v1/reservations/", {"slot": full.pk, "plate": "苏B12345"}, format="json")) == (
        409, "slot_full")
    open_slot = SlotFactory(hospital=hospital, starts_at=tomorrow(10))
    assert authed.post("/api/v1/reservations/", {"slot": open_slot.pk, "plate": "苏B12345"},
                       format="json").status_code == 201
    later = SlotFactory(hospital=hospital, starts_at=tomorrow(14))
    assert _error(authed.post("/api/v1/reservations/", {"slot": later.pk, "plate": "苏B12345"}, format="json")) == (
        409, "duplicate_reservation")
    assert Slot.objects.get(pk=later.pk).booked == 0


def test_a_suspended_citizen_is_403_with_until(authed, citizen, slot):
    suspension = Suspension.objects.create(hospital=slot.hospital, user=citizen, starts_at=timezone.now(),
                                           until=timezone.now() + timedelta(days=30), no_shows=3)
    response = authed.post("/api/v1/reservations/", {"slot": slot.pk, "plate": "苏B12345"}, format="json")
    assert _error(response) == (403, "booking_suspended")
    assert response.json()["error"]["details"]["until"] == timezone.localtime(suspension.until).isoformat()
    assert authed.get("/api/v1/me/booking-suspensions").json()[0]["no_shows"] == 3


@pytest.mark.parametrize(("body", "expected"), [
    ({"slot": 999999, "plate": "苏B12345"}, (400, "unknown_slot")),
    ({"slot": "abc", "plate": "苏B12345"}, (400, "invalid")),
    ({"plate": "苏B12345"}, (400, "invalid")),
    ({"slot": "SLOT", "plate": "苏B99999"}, (403, "plate_not_bound")),
    ({"slot": "SLOT", "plate": "苏B1234"}, (400, "invalid_plate")),
    ({"slot": "SLOT"}, (400, "invalid")),
])
def test_bad_input_is_refused_with_specs_error_and_saves_nothing(authed, slot, body, expected):
    if body.get("slot") == "SLOT":
        body = {**body, "slot": slot.pk}
    assert _error(authed.post("/api/v1/reservations/", body, format="json")) == expected
    assert not Reservation.objects.exists()
    assert Slot.objects.get(pk=slot.pk).booked == 0


def test_cancel_my_booking_and_the_place_comes_back(authed, slot, bound):
    reservation_id = authed.post("/api/v1/reservations/", {"slot": slot.pk, "plate": "苏B12345"},
                                 format="json").json()["id"]
    assert Slot.objects.get(pk=slot.pk).booked == 1
    stranger = UserFactory()
    from rest_framework.test import APIClient

    other = APIClient()
    other.force_authenticate(stranger)
    assert other.delete(f"/api/v1/reservations/{reservation_id}").status_code == 404
    response = authed.delete(f"/api/v1/reservations/{reservation_id}")
    assert (response.status_code, response.json()["state"]) == (200, "cancelled")
    assert Slot.objects.get(pk=slot.pk).booked == 0
    assert _error(authed.delete(f"/api/v1/reservations/{reservation_id}")) == (409, "cancellation_closed")


def test_cancel_after_the_cutoff_is_409(authed, citizen, hospital):
    soon = SlotFactory(hospital=hospital, starts_at=timezone.now() + timedelta(minutes=45))  # cut-off: 60 min
    reservation = services.reservation_book(user=citizen, slot_id=soon.pk, plate="苏B12345",
                                            now=timezone.now() - timedelta(hours=2))
    assert _error(authed.delete(f"/api/v1/reservations/{reservation.pk}")) == (409, "cancellation_closed")
    assert Reservation.objects.get().state == "booked"


def test_the_code_as_a_qr_code_and_my_reservations(authed, slot):
    body = authed.post("/api/v1/reservations/", {"slot": slot.pk, "plate": "苏B12345"}, format="json").json()
    qr = authed.get(body["qr_url"])
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml"
    assert qr.content.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"') and b"<path" in qr.content
    mine = authed.get("/api/v1/me/reservations")
    assert [r["code"] for r in mine.json()] == [body["code"]]
    assert authed.get(f"/api/v1/reservations/{body['id']}").json()["code"] == body["code"]


def test_sharing_offers_application_and_my_sharing(authed, api_client, citizen, officer):
    offer = SharingOfferFactory(berths=2)
    listed = api_client.get("/api/v1/sharing/offers").json()
    assert [(o["id"], o["remaining"], o["monthly_price_fen"], o["weekday_start"]) for o in listed] == [
        (offer.pk, 2, 15000, "18:00:00")]
    response = authed.post("/api/v1/sharing/applications", {"offer": offer.pk, "plate": "苏B12345",
                                                            "address": "梁溪区学前街1号"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "pending"
    assert _error(authed.post("/api/v1/sharing/applications", {"offer": offer.pk, "plate": "苏B12345",
                                                               "address": "x"}, format="json")) == (
        409, "duplicate_application")
    assert _error(authed.post("/api/v1/sharing/applications", {"offer": 99999, "plate": "苏B12345",
                                                               "address": "x"}, format="json")) == (
        400, "unknown_offer")
    services.sharing_application_approve(application_id=SharingApplication.objects.get().pk, actor=officer)
    mine = authed.get("/api/v1/me/sharing").json()
    assert [a["state"] for a in mine["applications"]] == ["approved"]
    (contract,) = mine["contracts"]
    assert (contract["state"], contract["plate"], contract["lot_code"]) == ("active", "苏B12345", offer.lot.code)
    renewed = authed.post(f"/api/v1/me/sharing/contracts/{contract['id']}/renew").json()
    assert renewed["months"] == 2
    ended = authed.post(f"/api/v1/me/sharing/contracts/{contract['id']}/end").json()
    assert (ended["state"], ended["ended_by"]) == ("ended", "citizen")
    assert api_client.get("/api/v1/sharing/offers").json()[0]["remaining"] == 2


def test_my_routes_need_a_login(api_client, db):
    for path in ("/api/v1/me/reservations", "/api/v1/me/sharing", "/api/v1/me/booking-suspensions"):
        assert _error(api_client.get(path)) == (401, "not_authenticated"), path
    assert _error(api_client.post("/api/v1/sharing/applications", {}, format="json")) == (401, "not_authenticated")


def test_end_to_end_book_enter_arrive_and_leave_released_as_reservation(authed, hospital):
    """Book on the API, the lot's camera posts a signed entry inside the arrival window, the
    booking is arrived; the exit is released ``reservation`` with the fee waived as configured."""
    from rest_framework.test import APIClient

    from tests.factories import DeviceFactory
    from tests.factories_sessions import entry_event, exit_event, signed_post

    starts = timezone.now() + timedelta(minutes=50)
    slot = SlotFactory(hospital=hospital, starts_at=starts, ends_at=starts + timedelta(hours=1))
    booked = authed.post("/api/v1/reservations/", {"slot": slot.pk, "plate": "苏B12345"}, format="json").json()
    device, secret = DeviceFactory.issue(lots=[hospital.lot])
    lot_system = APIClient()
    entered = timezone.now() - timedelta(minutes=5)  # the arrival window opened ten minutes ago
    response = signed_post(lot_system, device, secret, {"events": [entry_event(hospital.lot, "苏B 12345", at=entered)]})
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert authed.get(f"/api/v1/reservations/{booked['id']}").json()["state"] == "arrived"

    response = signed_post(lot_system, device, secret, {"events": [exit_event(hospital.lot, "苏B12345")]})
    session = response.json()["results"][0]["session"]
    assert (session["release"], session["release_reason"], session["amount_fen"], session["due_fen"]) == (
        True, "reservation", 100, 0)
    services.reservations_sweep()
    assert authed.get(f"/api/v1/reservations/{booked['id']}").json()["state"] == "completed"


def test_lots_booking_accessible_and_ev_berths_are_listed_apart(api_client, hospital):
    from apps.reservations.models import BookingSite

    garage = HospitalFactory(kind=BookingSite.Kind.LOT, name="万达广场充电泊位", waives_fee=False)
    SlotFactory(hospital=garage, starts_at=tomorrow(9), berth_kind="ev", quota=4)
    SlotFactory(hospital=hospital, starts_at=tomorrow(9))
    hospitals = api_client.get("/api/v1/reservations/hospitals/").json()
    assert [h["name"] for h in hospitals] == [hospital.name]
    (lot,) = api_client.get("/api/v1/reservations/hospitals/?site_kind=lot").json()
    assert (lot["name"], lot["site_kind"], lot["slots"][0]["berth_kind"], lot["slots"][0]["remaining"]) == (
        "万达广场充电泊位", "lot", "ev", 4)
