"""The citizen API (SPEC §8): my plates, my stays, my arrears; token or session; 401 without."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.berths.models import Berth
from apps.common.citizens import bound_plates
from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry
from apps.wechat.models import BoundPlate
from tests.factories import LotFactory, UserFactory
from tests.factories_sessions import SessionFactory
from tests.factories_wechat import BoundPlateFactory, CitizenFactory

pytestmark = [pytest.mark.django_db, pytest.mark.midday]


@pytest.fixture
def citizen():
    return CitizenFactory()


@pytest.fixture
def me(api_client, citizen):
    token = Token.objects.create(user=citizen.user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api_client


def test_without_login_every_route_is_401_with_the_error_body(api_client):
    for method, path in (("get", "/api/v1/me/plates"), ("post", "/api/v1/me/plates"),
                         ("delete", "/api/v1/me/plates/" + quote("苏B12345")), ("get", "/api/v1/me/sessions"),
                         ("get", "/api/v1/me/arrears")):
        response = getattr(api_client, method)(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = api_client.get("/api/v1/me/plates")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_bind_list_and_unbind(me, citizen):
    response = me.post("/api/v1/me/plates", {"plate": "苏ｂ 12345"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["plate"] == "苏B12345"
    assert me.post("/api/v1/me/plates", {"plate": "苏B12345"}, format="json").status_code == 200  # again: no change
    assert [row["plate"] for row in me.get("/api/v1/me/plates").json()] == ["苏B12345"]
    assert bound_plates(citizen.user) == ["苏B12345"]  # the port payments and reservations ask
    assert me.delete("/api/v1/me/plates/" + quote("苏b12345")).status_code == 204
    assert me.get("/api/v1/me/plates").json() == []
    response = me.delete("/api/v1/me/plates/" + quote("苏B12345"))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_an_invalid_plate_is_400_and_binds_nothing(me):
    response = me.post("/api/v1/me/plates", {"plate": "ABC123"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_plate"
    assert not BoundPlate.objects.exists()
    assert me.post("/api/v1/me/plates", {}, format="json").json()["error"]["code"] == "invalid"


def test_a_field_binding_does_not_take_is_400_and_binds_nothing(me):
    response = me.post("/api/v1/me/plates", {"plate": "苏B12345", "owner": "someone-else"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"], error["details"]["allowed"]) == (
        "unknown_parameter", "owner", ["plate", "proof"])
    assert not BoundPlate.objects.exists()


def test_a_fourth_plate_is_409(me, citizen):
    for plate in ("苏B11111", "苏B22222", "苏BD12345"):
        assert me.post("/api/v1/me/plates", {"plate": plate}, format="json").status_code == 201
    response = me.post("/api/v1/me/plates", {"plate": "苏B44444"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_many_plates"
    assert BoundPlate.objects.filter(citizen=citizen).count() == 3


def test_another_citizens_plate_needs_proof_of_a_recent_payment(me, citizen):
    other = BoundPlateFactory(plate="苏B12345")
    response = me.post("/api/v1/me/plates", {"plate": "苏B12345"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "plate_proof_required"
    assert response.json()["error"]["details"] == {"field": "proof", "proof_days": 30}  # nothing of the holder

    session = SessionFactory(plate="苏B12345", state=ParkingSession.State.CLOSED, exit_at=timezone.now())
    SessionMoneyEntry.objects.create(session=session, kind="payment", amount_fen=600, reason="wechat",
                                     reference="WX2026031700000001", created_at=timezone.now() - timedelta(days=40))
    SessionMoneyEntry.objects.create(session=SessionFactory(plate="苏B99999"), kind="payment", amount_fen=600,
                                     reason="wechat", reference="WX2026031700000002", created_at=timezone.now())
    for proof in ("WX2026031700000001", "WX2026031700000002", "guess"):  # too old; another plate's; unknown
        response = me.post("/api/v1/me/plates", {"plate": "苏B12345", "proof": proof}, format="json")
        assert response.status_code == 403, proof
        assert response.json()["error"]["code"] == "plate_proof_rejected"
    assert BoundPlate.objects.get(plate="苏B12345").citizen == other.citizen

    SessionMoneyEntry.objects.create(session=session, kind="payment", amount_fen=300, reason="wechat",
                                     reference="WX2026031700000003", created_at=timezone.now() - timedelta(days=3))
    response = me.post("/api/v1/me/plates", {"plate": "苏B12345", "proof": "WX2026031700000003"}, format="json")
    assert response.status_code == 201
    assert BoundPlate.objects.get(plate="苏B12345").citizen == citizen


def test_session_login_works_too(client, citizen):
    client.force_login(citizen.user)
    assert client.get("/api/v1/me/plates").status_code == 200


def test_my_sessions_current_first_with_berth_floor_and_fee_so_far(me, citizen, django_assert_max_num_queries):
    BoundPlateFactory(citizen=citizen, plate="苏B12345")
    BoundPlateFactory(citizen=citizen, plate="苏BD12345")
    lot = LotFactory(name="中山路地下停车场")
    lot.tariff.rules = {"small": {"free_minutes": 0, "bands": [{"start": "00:00", "end": "24:00", "ladder": [
        {"after_minutes": 0, "unit_minutes": 60, "unit_fen": 400}]}]}}
    lot.tariff.save()
    berth = Berth.objects.create(lot=lot, code="B-017", floor="负二层")
    now = timezone.now()
    past = SessionFactory(lot=lot, plate="苏B12345", state=ParkingSession.State.CLOSED,
                          entry_at=now - timedelta(days=2), exit_at=now - timedelta(days=2) + timedelta(hours=1),
                          amount_fen=400, paid_fen=400)
    current = SessionFactory(lot=lot, berth=berth, plate="苏BD12345", entry_at=now - timedelta(minutes=150))
    SessionFactory(lot=lot, plate="苏B99999", entry_at=now - timedelta(minutes=5))  # not mine
    SessionFactory(lot=lot, plate="苏B12345", state=ParkingSession.State.CLOSED,
                   entry_at=now - timedelta(days=200), exit_at=now - timedelta(days=200))  # too old
    with django_assert_max_num_queries(6):
        body = me.get("/api/v1/me/sessions").json()
    assert body["count"] == 2
    first, second = body["results"]
    assert (first["session_id"], first["current"]) == (current.pk, True)
    assert (first["berth"], first["floor"]) == ("B-017", "负二层")
    assert first["amount_fen"] == 1200 and first["due_fen"] == 1200  # three started hours
    assert first["navigate_url"].endswith(f"/map/lots/{lot.code}/navigate/")
    assert (second["session_id"], second["current"]) == (past.pk, False)
    assert (second["amount_fen"], second["due_fen"]) == (400, 0)


def test_my_sessions_list_costs_the_same_queries_for_many_stays(me, citizen, django_assert_max_num_queries):
    BoundPlateFactory(citizen=citizen, plate="苏B12345")
    for _ in range(20):
        lot = LotFactory()
        SessionFactory(lot=lot, plate="苏B12345", state=ParkingSession.State.CLOSED,
                       exit_at=timezone.now(), berth=Berth.objects.create(lot=lot, code="B1"))
    SessionFactory(plate="苏B12345")
    with django_assert_max_num_queries(6):
        assert me.get("/api/v1/me/sessions").json()["count"] == 21


def test_my_arrears_oldest_first_and_only_mine(me, citizen):
    BoundPlateFactory(citizen=citizen, plate="苏B12345")
    lot = LotFactory(code="LX-ARR-1")
    now = timezone.now()
    rows = []
    for plate, days, amount, paid_at in (("苏B12345", 1, 500, None), ("苏B12345", 5, 900, None),
                                         ("苏B12345", 9, 700, now), ("苏B99999", 7, 300, None)):
        session = SessionFactory(lot=lot, plate=plate, state=ParkingSession.State.CLOSED, exit_at=now)
        rows.append(Arrears.objects.create(session=session, plate=plate, lot=lot, amount_fen=amount,
                                           paid_fen=amount if paid_at else 0, paid_at=paid_at,
                                           created_at=now - timedelta(days=days)))
    body = me.get("/api/v1/me/arrears").json()
    assert [row["arrears_id"] for row in body["results"]] == [rows[1].pk, rows[0].pk]
    assert body["results"][0]["due_fen"] == 900
    assert body["results"][0]["pay_url"].endswith("/pay/LX-ARR-1/")


def test_a_user_without_a_citizen_record_sees_empty_lists(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    assert api_client.get("/api/v1/me/plates").json() == []
    assert api_client.get("/api/v1/me/sessions").json()["count"] == 0
    assert api_client.get("/api/v1/me/arrears").json()["count"] == 0


def test_a_session_post_without_the_csrf_token_is_403_with_the_error_body(citizen):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(citizen.user)
    response = browser.post("/api/v1/me/plates", {"plate": "苏B12345"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not BoundPlate.objects.exists()


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/me/plates"), ("post", "/api/v1/me/plates"), ("delete", "/api/v1/me/plates/苏B12345"),
    ("get", "/api/v1/me/sessions"), ("get", "/api/v1/me/arrears"),
])
def test_a_parameter_my_endpoints_do_not_take_is_400_naming_it(me, citizen, method, path):
    """As every other endpoint (``unknown_parameter``): ``?limit=5`` is not silently ignored."""
    BoundPlateFactory(citizen=citizen, plate="苏B12345")
    response = getattr(me, method)(f"{path}?limit=5", {"plate": "苏B54321"} if method == "post" else None,
                                   format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("unknown_parameter", "limit")
    assert list(bound_plates(citizen.user)) == ["苏B12345"]


def test_my_lists_still_take_their_paging(me, citizen):
    for path in ("/api/v1/me/sessions", "/api/v1/me/arrears"):
        assert me.get(f"{path}?page=1&page_size=100").status_code == 200
