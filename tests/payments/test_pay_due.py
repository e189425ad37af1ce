"""Paying at the lot's code (SPEC §8.1, §3.2): what is due, the grace after paying while parked, and
an unpaid exit that is paid and released ``paid`` when the lot sends the exit again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from apps.lots.fees import SHANGHAI
from apps.payments.models import Order
from apps.sessions.models import ParkingSession
from apps.sessions.money import amount_after_grace
from tests.factories import DeviceFactory
from tests.factories_payments import Gate, flat_lot, order_for, payment_payload, post_notice
from tests.factories_sessions import exit_event, signed_post

pytestmark = pytest.mark.midday  # prices stays ending now: clear of local midnight

DUE = "/api/v1/pay/due"
T0 = datetime(2026, 3, 17, 14, 0, tzinfo=SHANGHAI)


# -- the rule, pure ------------------------------------------------------------------------------

def test_within_grace_a_paid_stay_costs_what_was_paid():
    assert amount_after_grace(amount_fen=800, paid_fen=600, exit_at=T0 + timedelta(minutes=15), paid_at=T0,
                              grace_minutes=15) == 600


def test_after_grace_the_whole_stay_is_priced_so_only_the_extra_is_due():
    assert amount_after_grace(amount_fen=800, paid_fen=600, exit_at=T0 + timedelta(minutes=15, seconds=1),
                              paid_at=T0, grace_minutes=15) == 800


def test_an_unpaid_stay_is_not_touched_by_grace():
    assert amount_after_grace(amount_fen=800, paid_fen=0, exit_at=T0, paid_at=None, grace_minutes=15) == 800


@given(amount=st.integers(0, 10**6), paid=st.integers(0, 10**6), after=st.integers(-3600, 7200),
       grace=st.integers(0, 240))
def test_grace_never_charges_more_than_the_stay_nor_less_than_what_was_paid_while_inside_it(amount, paid, after,
                                                                                            grace):
    exit_at = T0 + timedelta(seconds=after)
    charged = amount_after_grace(amount_fen=amount, paid_fen=paid, exit_at=exit_at, paid_at=T0, grace_minutes=grace)
    assert charged <= amount
    if paid and T0 <= exit_at <= T0 + timedelta(minutes=grace):
        assert charged == min(amount, paid)  # nothing left due
    else:
        assert charged == amount


# -- pay/due -------------------------------------------------------------------------------------


@pytest.fixture
def gate(db):
    return Gate(flat_lot())


@pytest.mark.django_db
def test_a_stay_in_the_lot_is_priced_to_now(api_client, gate):
    entered = timezone.now() - timedelta(minutes=50)
    stay = gate.enter("苏B12345", at=entered)
    response = api_client.get(DUE, {"lot": gate.lot.code.lower(), "plate": "苏b 12345"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {"lot_code": gate.lot.code, "plate": "苏B12345", "due_fen": 400, "grace_minutes": 15,
                    "sessions": [{"session_id": stay.pk, "entry_at": body["sessions"][0]["entry_at"], "exit_at": None,
                                  "amount_fen": 400, "paid_fen": 0, "due_fen": 400}]}
    assert datetime.fromisoformat(body["sessions"][0]["entry_at"]) == entered


@pytest.mark.django_db
def test_a_stay_waiting_at_the_barrier_keeps_its_exit_amount(api_client, gate):
    gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=100))
    gate.exit("苏B12345", at=timezone.now() - timedelta(minutes=1))
    body = api_client.get(DUE, {"lot": gate.lot.code, "plate": "苏B12345"}).json()
    assert body["due_fen"] == 800 and body["sessions"][0]["exit_at"] is not None


@pytest.mark.django_db
def test_nothing_else_is_listed(api_client, gate):
    gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    other = Gate(flat_lot())
    other.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))  # another lot
    gate.enter("苏B54321", at=timezone.now() - timedelta(minutes=50))  # another plate
    body = api_client.get(DUE, {"lot": gate.lot.code, "plate": "苏B12345"}).json()
    assert len(body["sessions"]) == 1 and body["due_fen"] == 400


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "status", "code"), [
    ({"lot": "NOPE", "plate": "苏B12345"}, 404, "not_found"),
    ({"lot": "LX-00001", "plate": "12345"}, 400, "invalid_plate"),
    ({"plate": "苏B12345"}, 400, "invalid"),
    ({"lot": "X", "plate": "苏B12345", "berth": "B1"}, 400, "unknown_parameter"),
])
def test_bad_queries_are_clear_errors(api_client, gate, params, status, code):
    response = api_client.get(DUE, params)
    assert response.status_code == status and response.json()["error"]["code"] == code


@pytest.mark.django_db
def test_nothing_due_is_404(api_client, gate):
    response = api_client.get(DUE, {"lot": gate.lot.code, "plate": "苏B12345"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# -- paying while parked, then leaving ------------------------------------------------------------

def _pay(api_client, client, session_id: int) -> Order:
    response = order_for(api_client, [session_id])
    assert response.status_code == 201, response.content
    order = Order.objects.get(order_no=response.json()["order_no"])
    assert post_notice(client, payment_payload(order)).status_code == 200
    order.refresh_from_db()
    assert order.state == "paid"
    return order


@pytest.mark.django_db
def test_paid_while_parked_and_leaving_within_grace_is_released_paid(api_client, client, gate):
    stay = gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    _pay(api_client, client, stay.pk)
    assert api_client.get(DUE, {"lot": gate.lot.code, "plate": "苏B12345"}).status_code == 404  # nothing more now
    decision = gate.exit("苏B12345", at=timezone.now() + timedelta(minutes=14))  # the next unit has started
    assert (decision["release"], decision["release_reason"], decision["due_fen"]) == (True, "paid", 0)
    assert decision["amount_fen"] == decision["paid_fen"] == 400


@pytest.mark.django_db
def test_after_grace_only_the_extra_time_is_due(api_client, client, gate):
    stay = gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    _pay(api_client, client, stay.pk)
    # 50 min + 25 min: 3 started half hours (600) of which 400 were paid
    decision = gate.exit("苏B12345", at=timezone.now() + timedelta(minutes=25))
    assert (decision["release"], decision["release_reason"]) == (False, "unpaid")
    assert (decision["amount_fen"], decision["paid_fen"], decision["due_fen"]) == (600, 400, 200)


@pytest.mark.django_db
def test_an_unpaid_exit_paid_at_the_code_is_released_paid_on_the_resent_exit(api_client, client, gate):
    """End to end through the signed ingest API, the order API and the callback."""
    device, secret = DeviceFactory.issue(lots=[gate.lot])
    gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=70))

    def barrier():
        response = signed_post(api_client, device, secret, {"events": [exit_event(gate.lot, "苏B12345")]})
        assert response.status_code == 200, response.content
        return response.json()["results"][0]["session"]

    first = barrier()
    assert (first["release"], first["release_reason"], first["due_fen"]) == (False, "unpaid", 600)
    due = api_client.get(DUE, {"lot": gate.lot.code, "plate": "苏B12345"}).json()
    assert due["due_fen"] == 600
    _pay(api_client, client, first["session_id"])
    again = barrier()
    assert (again["session_id"], again["release"], again["release_reason"]) == (first["session_id"], True, "paid")
    assert (again["amount_fen"], again["paid_fen"], again["due_fen"]) == (600, 600, 0)
    assert ParkingSession.objects.get(pk=first["session_id"]).state == "closed"
