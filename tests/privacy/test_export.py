"""Issue 12 item 4: a plate's verified owner exports what the platform holds about it
(``GET /api/v1/me/plates/{plate}/export``), gathered through the apps' exporters (apps.common.privacy)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.common import privacy
from apps.complaints.models import Ticket
from apps.payments.models import Order, OrderItem, Payment
from apps.sessions import retention
from apps.sessions.models import Arrears, IngestEvent, ParkingSession, SessionMoneyEntry
from tests.factories import LotFactory
from tests.factories_complaints import make_ticket
from tests.factories_sessions import SessionFactory
from tests.factories_wechat import BoundPlateFactory, CitizenFactory

pytestmark = pytest.mark.django_db

PLATE, OTHER = "苏B12345", "苏B99999"


def url(plate: str) -> str:
    return f"/api/v1/me/plates/{quote(plate)}/export"


@pytest.fixture
def citizen():
    return CitizenFactory()


@pytest.fixture
def me(api_client, citizen):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=citizen.user).key}")
    return api_client


@pytest.fixture
def held():
    """A plate's trail across the apps, and another plate's beside it."""
    lot = LotFactory()
    now = timezone.now()
    rows = {}
    for plate in (PLATE, OTHER):
        stay = SessionFactory(lot=lot, plate=plate, state="closed", entry_at=now - timedelta(hours=3),
                              exit_at=now - timedelta(hours=1), closed_at=now - timedelta(hours=1), amount_fen=800,
                              paid_fen=800)
        IngestEvent.objects.create(lot=lot, event_id=f"ex-{plate}", type="exit", occurred_at=stay.exit_at,
                                   received_at=stay.exit_at, batch=uuid.uuid4(), plate=plate, session=stay,
                                   payload={"event_id": f"ex-{plate}", "type": "exit", "plate": plate, "gate": "G2"})
        order = Order.objects.create(order_no=("A" + uuid.uuid4().hex)[:24], state="paid", channel="sandbox",
                                     amount_fen=800, plate=plate, created_at=now, expires_at=now, paid_at=now)
        OrderItem.objects.create(order=order, kind="session", session=stay, lot=lot, amount_fen=800, open=False)
        Payment.objects.create(order=order, channel="sandbox", transaction_id=f"T{order.order_no}", amount_fen=800,
                               paid_at=now, created_at=now, payer="someone", raw={"secret": "x"})
        SessionMoneyEntry.objects.create(session=stay, kind="payment", amount_fen=800, reason="缴费",
                                         reference=order.order_no, created_at=now)
        rows[plate] = {"stay": stay, "order": order}
    owed = SessionFactory(lot=lot, plate=PLATE, state="closed", entry_at=now - timedelta(days=3),
                          exit_at=now - timedelta(days=3), closed_at=now - timedelta(days=3), due_fen=300)
    Arrears.objects.create(session=owed, plate=PLATE, lot=lot, amount_fen=300, created_at=owed.closed_at)
    ticket = make_ticket(lot=lot)
    Ticket.objects.filter(pk=ticket.pk).update(plate=PLATE, caller_name="张三", description="挡住了我家车库")
    rows["ticket"] = ticket
    return rows


def test_the_owner_who_bound_with_proof_gets_everything_held_about_the_plate_and_nothing_else(me, citizen, held):
    BoundPlateFactory(citizen=citizen, plate=PLATE, proof=held[PLATE]["order"].order_no)

    response = me.get(url("苏b·12345"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["plate"] == PLATE and body["retention_days"] == 180 and body["exported_at"]
    data = body["held"]
    assert set(data) >= {"sessions", "payments", "complaints", "reservations"}
    assert {s["id"] for s in data["sessions"]["sessions"]} == set(
        ParkingSession.objects.filter(plate=PLATE).values_list("pk", flat=True))
    assert [e["payload"]["gate"] for e in data["sessions"]["events"]] == ["G2"]
    assert [a["amount_fen"] for a in data["sessions"]["arrears"]] == [300]
    assert [m["reference"] for m in data["sessions"]["money_entries"]] == [held[PLATE]["order"].order_no]
    (order,) = data["payments"]["orders"]
    assert order["order_no"] == held[PLATE]["order"].order_no and order["items"][0]["amount_fen"] == 800
    assert order["payments"] == [{"channel": "sandbox", "amount_fen": 800, "paid_at": order["payments"][0]["paid_at"]}]
    assert all(s["entry_at"].endswith("+08:00") for s in data["sessions"]["sessions"])  # local, as SPEC §1
    (ticket,) = data["complaints"]["tickets"]
    assert ticket["ticket_no"] == held["ticket"].ticket_no
    text = response.content.decode()
    assert OTHER not in text and held[OTHER]["order"].order_no not in text
    # the caller of a ticket about the plate is someone else: their name, phone and words stay out
    assert "张三" not in text and "车库" not in text and held["ticket"].phone not in text
    assert "secret" not in text


def test_stays_whose_plate_was_hashed_are_still_exported_with_it(me, citizen, held):
    BoundPlateFactory(citizen=citizen, plate=PLATE, proof="kept-at-takeover")
    ParkingSession.objects.filter(plate=PLATE).update(plate=retention.plate_hash(PLATE))
    data = me.get(url(PLATE)).json()["held"]["sessions"]
    assert len(data["sessions"]) == 2 and data["money_entries"]


def test_a_first_binding_without_proof_is_403_until_a_recent_payment_is_shown(me, citizen, held):
    BoundPlateFactory(citizen=citizen, plate=PLATE, proof="")
    refused = me.get(url(PLATE))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "plate_not_verified"
    assert refused.json()["error"]["details"]["proof_days"] == 30

    wrong = me.get(url(PLATE), {"proof": held[OTHER]["order"].order_no})  # another plate's payment
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "plate_proof_rejected"

    shown = me.get(url(PLATE), {"proof": held[PLATE]["order"].order_no})
    assert shown.status_code == 200 and shown.json()["plate"] == PLATE


def test_a_plate_not_bound_to_me_is_404_even_if_another_citizen_holds_it(me, held):
    BoundPlateFactory(plate=PLATE, proof="held-elsewhere")
    response = me.get(url(PLATE))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert me.get(url("苏B00000")).status_code == 404


def test_bad_input_gets_a_clear_error_and_no_login_is_401(api_client, me):
    bad = me.get(url("not-a-plate"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_plate"
    unknown = me.get(url(PLATE), {"format_": "x"})
    assert unknown.status_code == 400
    api_client.credentials()
    assert api_client.get(url(PLATE)).status_code == 401


def test_every_app_that_holds_plates_registered_an_exporter():
    assert privacy.exporter_names() == ["sessions", "payments", "complaints", "reservations"]


def test_the_export_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/me/plates/{plate}/export"]["get"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404"}
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["proof"]
