"""SPEC §8.2 to the letter: categories, filing without login, follow-up by number and the phone's
last 4 digits (a wrong pair answers exactly as an unknown ticket), rating once resolved; every bad
input refused with SPEC §1's error and nothing saved."""

from __future__ import annotations

import re

import pytest
from django.utils.dateparse import parse_datetime

from apps.complaints import guard
from apps.complaints.models import Ticket, TicketChange
from tests.factories import LotFactory
from tests.factories_complaints import PHONE, make_ticket, move

pytestmark = pytest.mark.django_db

CREATE = "/api/v1/complaints/"
VALID = {"category": "fee_dispute", "description": "出场时被多收了10元", "phone": PHONE}


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]


def test_categories_list_the_eight_with_their_sla(api_client, city):
    response = api_client.get("/api/v1/complaints/categories")
    assert response.status_code == 200
    rows = response.json()
    assert [row["code"] for row in rows] == ["fee_dispute", "wrong_charge", "equipment_fault", "berth_occupied",
                                             "staff_attitude", "payment_failure", "suggestion", "other"]
    assert rows[0] == {"code": "fee_dispute", "name": "收费争议", "respond_hours": 2, "resolve_working_days": 5}


def test_filing_without_login_answers_201_with_the_ticket_number(api_client, city, django_capture_on_commit_callbacks):
    lot = LotFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(CREATE, {**VALID, "lot": lot.code, "plate": "苏B12345", "lat": 31.57, "lon": 120.3},
                                   format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"ticket_no", "state", "category", "created_at", "respond_by", "resolve_by"}
    assert re.fullmatch(r"RX\d{8}-\d{4}", body["ticket_no"])
    assert body["state"] == "received" and body["category"] == "fee_dispute"
    for key in ("created_at", "respond_by", "resolve_by"):
        assert parse_datetime(body[key]).utcoffset() is not None and body[key].endswith("+08:00")
    ticket = Ticket.objects.get(ticket_no=body["ticket_no"])
    assert (ticket.channel, ticket.lot, ticket.plate, ticket.phone) == ("web", lot, "苏B12345", PHONE)
    assert ticket.state == "dispatched"  # routed after commit


def test_gcj02_coordinates_are_stored_as_wgs84(api_client, city):
    response = api_client.post(CREATE, {**VALID, "lat": 31.57, "lon": 120.30, "coord_system": "gcj02"}, format="json")
    assert response.status_code == 201
    ticket = Ticket.objects.get()
    assert ticket.lat != 31.57 and abs(ticket.lat - 31.57) < 0.01


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"category": "parking_spaceship"}, "unknown_category", "category"),
    ({"category": ""}, "unknown_category", "category"),
    ({"description": "   "}, "empty_description", "description"),
    ({"phone": "12345"}, "invalid_phone", "phone"),
    ({"phone": ""}, "invalid_phone", "phone"),
    ({"lot": "NO-SUCH-LOT"}, "unknown_lot", "lot"),
    ({"plate": "ABC"}, "invalid_plate", None),
    ({"lat": 31.5}, "invalid_location", "lon"),
    ({"lat": 95, "lon": 120}, "invalid", "lat"),
    ({"coord_system": "bd09"}, "invalid", "coord_system"),
], ids=lambda value: str(value))
def test_bad_input_is_refused_with_spec_errors_and_nothing_saved(api_client, city, change, code, field):
    response = api_client.post(CREATE, {**VALID, **change}, format="json")
    error = _error(response, 400, code)
    if field:
        assert error["details"]["field"] == field
    assert not Ticket.objects.exists() and not TicketChange.objects.exists()


def test_a_category_left_unchosen_asks_for_one(api_client, city):
    """The web form's 请选择 sends an empty category: the caller is asked to choose, not told that
    "" is an unknown category ("未知的诉求类别：" with nothing after the colon)."""
    for blank in ("", "   "):
        error = _error(api_client.post(CREATE, {**VALID, "category": blank}, format="json"), 400, "unknown_category")
        assert error["message"] == "请选择诉求类别" and error["details"]["field"] == "category"
        assert "fee_dispute" in error["details"]["allowed"]
    assert not Ticket.objects.exists()


def test_a_missing_field_is_refused(api_client, city):
    body = dict(VALID)
    del body["description"]
    error = _error(api_client.post(CREATE, body, format="json"), 400, "invalid")
    assert error["details"]["field"] == "description"
    assert not Ticket.objects.exists()


def test_follow_up_shows_the_public_history_and_nothing_personal(api_client, city):
    lot = LotFactory()
    ticket = make_ticket(lot=lot, phone="13955551234", plate="苏B12345", caller_name="张三")
    from apps.complaints import services

    services.ticket_note(ticket=ticket, note="内部：车主张三 13955551234 苏B12345", public=False, actor=None)
    services.ticket_transition(ticket=ticket, target="in_progress", actor=None, note="已联系 13955551234 车主")
    response = api_client.get(f"/api/v1/complaints/{ticket.ticket_no}", {"phone_last4": "1234"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"ticket_no", "state", "category", "unit", "created_at", "respond_by", "resolve_by", "history"}
    assert body["state"] == "in_progress" and body["unit"] == "梁溪区停车管理办公室"
    assert [(h["state"]) for h in body["history"]] == ["received", "dispatched", "in_progress"]
    assert all(set(h) == {"state", "at", "note"} for h in body["history"])
    text = response.content.decode()
    for secret in ("13955551234", "张三", "苏B12345", "内部"):
        assert secret not in text.replace(ticket.ticket_no, "")


def test_a_wrong_pair_answers_exactly_as_an_unknown_ticket(api_client, city):
    ticket = make_ticket(phone="13955551234")
    wrong = api_client.get(f"/api/v1/complaints/{ticket.ticket_no}", {"phone_last4": "9999"})
    unknown = api_client.get("/api/v1/complaints/RX20200101-0001", {"phone_last4": "1234"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.content == unknown.content
    assert wrong.json()["error"]["code"] == "not_found"
    per_response = {"Date", "X-Request-ID"}  # differ between any two responses
    assert {k: v for k, v in wrong.headers.items() if k not in per_response} == \
        {k: v for k, v in unknown.headers.items() if k not in per_response}


def test_follow_up_needs_four_digits_and_no_other_parameter(api_client, city):
    ticket = make_ticket()
    _error(api_client.get(f"/api/v1/complaints/{ticket.ticket_no}"), 400, "invalid")
    _error(api_client.get(f"/api/v1/complaints/{ticket.ticket_no}", {"phone_last4": "12a4"}), 400, "invalid")
    _error(api_client.get(f"/api/v1/complaints/{ticket.ticket_no}", {"phone_last4": "5678", "phone": "1"}), 400,
           "unknown_parameter")


def test_repeated_guessing_is_rate_limited_even_for_the_right_pair(api_client, city):
    ticket = make_ticket(phone="13955551234")
    url = f"/api/v1/complaints/{ticket.ticket_no}"
    for guess in range(guard.GUESSES_PER_TICKET):
        assert api_client.get(url, {"phone_last4": f"{guess:04d}"}).status_code == 404
    _error(api_client.get(url, {"phone_last4": "1234"}), 429, "rate_limited")
    # Another ticket from the same client is still answered until the client's own limit.
    other = make_ticket(phone="13955556789")
    assert api_client.get(f"/api/v1/complaints/{other.ticket_no}", {"phone_last4": "6789"}).status_code == 200


def test_a_ticket_number_of_any_text_is_counted_without_becoming_a_cache_key(api_client, city):
    """The number in the path is the caller's text: control characters or 2,000 of them are counted
    like any wrong number, and what reaches the cache is a digest (the fuzzer found a key holding
    ``\x17``)."""
    import warnings

    from django.core.cache.backends.base import CacheKeyWarning

    for hostile in ("WX\x17", "WX" + "9" * 2000):
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheKeyWarning)
            for _ in range(guard.GUESSES_PER_TICKET):
                guard.lookup_failed(_Request(), hostile)
        with pytest.raises(guard.TooManyGuesses):  # still counted per number
            guard.check_lookup(_Request(address=f"10.0.0.{len(hostile) % 200}"), hostile)
        assert len(guard._ticket_key(hostile)) < 60
    assert guard._ticket_key(" wx1 ") == guard._ticket_key("WX1")


class _Request:
    def __init__(self, address="10.0.0.1"):
        self.META = {"REMOTE_ADDR": address}


def test_rating_once_after_resolution(api_client, city):
    ticket = make_ticket(phone="13955551234")
    url = f"/api/v1/complaints/{ticket.ticket_no}/rating"
    _error(api_client.post(url, {"phone_last4": "1234", "score": 5}, format="json"), 409, "not_resolved")
    move(ticket, "in_progress", "resolved")
    _error(api_client.post(url, {"phone_last4": "1234", "score": 6}, format="json"), 400, "invalid")
    _error(api_client.post(url, {"phone_last4": "0000", "score": 5}, format="json"), 404, "not_found")
    assert Ticket.objects.get(pk=ticket.pk).rating is None
    response = api_client.post(url, {"phone_last4": "1234", "score": 4, "comment": "处理及时"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["score"] == 4 and response.json()["state"] == "resolved"
    _error(api_client.post(url, {"phone_last4": "1234", "score": 1}, format="json"), 409, "already_rated")
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment, ticket.state) == (4, "处理及时", "resolved")


def test_a_low_rating_over_the_api_reopens_the_ticket(api_client, city):
    ticket = move(make_ticket(phone="13955551234"), "in_progress", "resolved")
    response = api_client.post(f"/api/v1/complaints/{ticket.ticket_no}/rating", {"phone_last4": "1234", "score": 1},
                               format="json")
    assert response.status_code == 201
    assert response.json()["state"] == "reopened"
    again = api_client.post(f"/api/v1/complaints/{ticket.ticket_no}/rating", {"phone_last4": "1234", "score": 5},
                            format="json")
    _error(again, 409, "already_rated")
    history = api_client.get(f"/api/v1/complaints/{ticket.ticket_no}", {"phone_last4": "1234"}).json()["history"]
    assert history[-1]["state"] == "reopened"


def test_the_web_form_and_follow_up_pages_are_served_in_chinese(client, city):
    page = client.get("/hotline/?lot=LX-0001")
    assert page.status_code == 200
    html = page.content.decode()
    assert "收费争议" in html and 'value="LX-0001"' in html and "/static/complaints/hotline.js" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # no CDN
    track = client.get("/hotline/track/?no=RX20260317-0001")
    assert track.status_code == 200 and 'value="RX20260317-0001"' in track.content.decode()


def test_a_citizen_lists_the_tickets_they_filed_logged_in_with_state_and_deadline(city):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    citizen, other = UserFactory(), UserFactory()
    client = APIClient()
    client.force_authenticate(citizen)
    response = client.post(CREATE, VALID, format="json")
    assert response.status_code == 201
    mine = Ticket.objects.get()
    assert mine.user == citizen
    make_ticket(user=other)
    make_ticket()  # filed without an account
    rows = client.get("/api/v1/me/complaints").json()
    assert [row["ticket_no"] for row in rows] == [mine.ticket_no]
    row = rows[0]
    assert set(row) == {"ticket_no", "state", "state_name", "category", "category_name", "created_at", "respond_by",
                        "resolve_by", "track_url"}
    assert (row["state"], row["category"], row["category_name"]) == (mine.state, "fee_dispute", "收费争议")
    assert parse_datetime(row["resolve_by"]) == mine.resolve_by
    assert row["track_url"] == f"/hotline/track/?no={mine.ticket_no}"
    assert "phone" not in str(row) and PHONE not in str(rows)
    assert APIClient().get("/api/v1/me/complaints").status_code == 401
