"""Orders (SPEC §8.1): the server prices the debts, the same debts give the same open order, a debt
is in one unpaid order at a time, and every refusal is a clear error that changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.common import citizens
from apps.payments import providers, services
from apps.payments.models import Order, OrderItem, SandboxTrade
from apps.payments.providers.base import PaymentProvider, ProviderError
from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry
from tests.factories import UserFactory
from tests.factories_payments import ORDERS_PATH, Gate, flat_lot, order_for, payment_payload, post_notice, stay_waiting

pytestmark = [pytest.mark.django_db, pytest.mark.midday]


@pytest.fixture
def gate():
    return Gate(flat_lot())


@pytest.fixture
def waiting(gate):
    return stay_waiting(gate, minutes=90)  # 3 half hours: 6 yuan


@pytest.fixture
def bind():
    plates: dict[int, list[str]] = {}
    citizens.register_bound_plates(lambda user: plates.get(user.pk, []))
    yield lambda user, *bound: plates.__setitem__(user.pk, list(bound))
    citizens.register_bound_plates(None)


def _error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def test_an_order_for_a_waiting_stay_is_priced_by_the_server(api_client, waiting):
    response = api_client.post(ORDERS_PATH, {"session_ids": [waiting.pk], "channel": "sandbox"},
                               format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"order_no", "state", "channel", "amount_fen", "items", "created_at", "expires_at", "paid_at",
                         "pay"}
    assert re.fullmatch(r"[A-Za-z0-9]{20,32}", body["order_no"])
    assert (body["state"], body["channel"], body["amount_fen"], body["paid_at"]) == ("created", "sandbox", 600, None)
    assert body["items"] == [{"kind": "session", "id": waiting.pk, "amount_fen": 600}]
    created, expires = parse_datetime(body["created_at"]), parse_datetime(body["expires_at"])
    assert created.utcoffset() == timedelta(hours=8)
    assert expires - created == timedelta(minutes=15)
    assert body["pay"]["pay_url"].endswith(f"/pay/cashier/{body['order_no']}/")
    trade = SandboxTrade.objects.get(order_no=body["order_no"])
    assert trade.amount_fen == 600 and trade.notify_url == "http://testserver/payments/notify/sandbox/"
    assert trade.return_url.endswith(f"/pay/{waiting.lot.code}/?order={body['order_no']}")
    assert not SessionMoneyEntry.objects.filter(kind="payment").exists()  # ordering is not paying


def test_order_numbers_are_not_guessable_from_one_another(api_client, gate):
    numbers = set()
    for n in range(5):
        stay = stay_waiting(gate, f"苏B1000{n}")
        numbers.add(order_for(api_client, [stay.pk]).json()["order_no"])
    assert len(numbers) == 5 and len({no[-12:] for no in numbers}) == 5


def test_the_same_debts_again_give_the_same_open_order(api_client, waiting):
    first = order_for(api_client, [waiting.pk])
    again = order_for(api_client, [waiting.pk])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Order.objects.count() == 1


def test_a_debt_in_another_unpaid_order_is_refused(api_client, gate, bind):
    stay = stay_waiting(gate)
    owner = UserFactory()
    bind(owner, stay.plate)
    api_client.force_authenticate(owner)
    assert order_for(api_client, [stay.pk]).status_code == 201
    api_client.force_authenticate(UserFactory())  # someone else, for the same stay
    _error(order_for(api_client, [stay.pk]), 409, "debt_in_open_order")
    assert Order.objects.count() == 1 and OrderItem.objects.filter(open=True).count() == 1


def test_a_cancelled_order_frees_its_debts(api_client, waiting, django_capture_on_commit_callbacks):
    order_no = order_for(api_client, [waiting.pk]).json()["order_no"]
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = api_client.post(f"{ORDERS_PATH}/{order_no}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "closed"
    assert SandboxTrade.objects.get(order_no=order_no).state == "closed"  # closed at the gateway too
    again = order_for(api_client, [waiting.pk])
    assert again.status_code == 201 and again.json()["order_no"] != order_no
    assert api_client.post(f"{ORDERS_PATH}/{order_no}/cancel").json()["state"] == "closed"  # again: unchanged


def test_an_expired_order_holding_the_debt_is_settled_before_a_new_one(api_client, waiting):
    order_no = order_for(api_client, [waiting.pk]).json()["order_no"]
    Order.objects.filter(order_no=order_no).update(expires_at=timezone.now() - timedelta(seconds=1))
    again = order_for(api_client, [waiting.pk])
    assert again.status_code == 201 and again.json()["order_no"] != order_no
    assert Order.objects.get(order_no=order_no).state == "closed"


def test_nothing_due_is_409(api_client, gate):
    stay = gate.enter("苏B22222", at=timezone.now())  # entered just now: a started half hour is due
    ParkingSession.objects.filter(pk=stay.pk).update(state="closed")
    _error(order_for(api_client, [stay.pk]), 409, "nothing_due")
    assert not Order.objects.exists()


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"channel": "sandbox"}, 400, "invalid"),
    ({"session_ids": [], "channel": "sandbox"}, 400, "invalid"),
    ({"session_ids": [1], "arrears_ids": [1], "channel": "sandbox"}, 400, "invalid"),
    ({"session_ids": ["x"], "channel": "sandbox"}, 400, "invalid"),
    ({"session_ids": [999999], "channel": "sandbox"}, 404, "not_found"),
    ({"session_ids": [1], "channel": "bitcoin"}, 400, "invalid_channel"),
])
def test_bad_orders_are_clear_errors(api_client, waiting, body, status, code):
    _error(api_client.post(ORDERS_PATH, body, format="json"), status, code)
    assert not Order.objects.exists()


def test_a_repeated_debt_in_one_order_is_refused(api_client, waiting):
    _error(order_for(api_client, [waiting.pk, waiting.pk]), 400, "invalid_debts")


def test_stays_of_two_plates_are_not_one_order(api_client, gate):
    a, b = stay_waiting(gate, "苏B11111"), stay_waiting(gate, "苏B22222")
    _error(order_for(api_client, [a.pk, b.pk]), 400, "invalid_debts")


def _arrears(stay: ParkingSession) -> Arrears:
    ParkingSession.objects.filter(pk=stay.pk).update(state="closed")
    return Arrears.objects.create(session=stay, plate=stay.plate, lot=stay.lot, amount_fen=stay.due_fen,
                                  created_at=timezone.now())


def test_arrears_need_a_login(api_client, waiting):
    arrears = _arrears(waiting)
    _error(api_client.post(ORDERS_PATH, {"arrears_ids": [arrears.pk], "channel": "sandbox"}, format="json"),
           401, "not_authenticated")


def test_arrears_need_a_bound_plate(api_client, waiting, bind):
    arrears = _arrears(waiting)
    user = UserFactory()
    bind(user, "苏B99999")
    api_client.force_authenticate(user)
    _error(api_client.post(ORDERS_PATH, {"arrears_ids": [arrears.pk], "channel": "sandbox"}, format="json"),
           403, "plate_not_bound")
    bind(user, waiting.plate)
    response = api_client.post(ORDERS_PATH, {"arrears_ids": [arrears.pk], "channel": "sandbox"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["items"] == [{"kind": "arrears", "id": arrears.pk, "amount_fen": 600}]
    assert Order.objects.get().user == user


def test_a_citizens_order_is_theirs_alone(api_client, waiting, bind):
    owner = UserFactory()
    bind(owner, waiting.plate)
    api_client.force_authenticate(owner)
    order_no = order_for(api_client, [waiting.pk]).json()["order_no"]
    assert api_client.get(f"{ORDERS_PATH}/{order_no}").status_code == 200
    api_client.force_authenticate(None)
    _error(api_client.get(f"{ORDERS_PATH}/{order_no}"), 404, "not_found")
    _error(api_client.post(f"{ORDERS_PATH}/{order_no}/cancel"), 404, "not_found")
    assert Order.objects.get().state == "created"


def test_a_stranger_logged_in_cannot_lock_a_drivers_stay_away_from_them(api_client, waiting, bind):
    """A citizen ordering a stay of a plate they have not bound holds no private order on it: the driver
    at the lot's code, and anyone else, gets that same open order to pay instead of 409 for 15 minutes."""
    stranger = UserFactory()
    bind(stranger, "苏E99999")
    api_client.force_authenticate(stranger)
    first = order_for(api_client, [waiting.pk])
    assert first.status_code == 201, first.content
    api_client.force_authenticate(None)  # the driver, at the barrier's code
    again = order_for(api_client, [waiting.pk])
    assert again.status_code == 200, again.content
    assert again.json()["order_no"] == first.json()["order_no"]
    assert api_client.get(f"{ORDERS_PATH}/{first.json()['order_no']}").status_code == 200
    assert Order.objects.count() == 1


def test_a_parameter_the_order_endpoints_do_not_take_is_400_and_changes_nothing(api_client, waiting):
    order_no = order_for(api_client, [waiting.pk]).json()["order_no"]
    for method, path in (("get", f"{ORDERS_PATH}/{order_no}"), ("post", f"{ORDERS_PATH}/{order_no}/cancel"),
                         ("post", ORDERS_PATH)):
        body = {"session_ids": [waiting.pk], "channel": "sandbox"} if path == ORDERS_PATH else None
        error = _error(getattr(api_client, method)(f"{path}?amount_fen=1", body, format="json"), 400,
                       "unknown_parameter")
        assert error["details"]["field"] == "amount_fen"
    assert Order.objects.get().state == "created" and Order.objects.count() == 1


def test_an_anonymous_order_is_open_to_whoever_holds_its_number(api_client, waiting):
    order_no = order_for(api_client, [waiting.pk]).json()["order_no"]
    api_client.force_authenticate(UserFactory())
    assert api_client.get(f"{ORDERS_PATH}/{order_no}").json()["order_no"] == order_no
    other = order_no[:-1] + ("y" if order_no.endswith("x") else "x")  # one character off, never itself
    _error(api_client.get(f"{ORDERS_PATH}/{other}"), 404, "not_found")
    _error(api_client.get(f"{ORDERS_PATH}/not-an-order"), 404, "not_found")


def test_a_channel_that_is_not_configured_is_not_offered(api_client, waiting, settings):
    settings.PAYMENT_SANDBOX = False
    _error(order_for(api_client, [waiting.pk]), 400, "invalid_channel")


def test_a_paid_order_cannot_be_cancelled(api_client, client, waiting):
    order_no = order_for(api_client, [waiting.pk]).json()["order_no"]
    post_notice(client, payment_payload(Order.objects.get(order_no=order_no)))
    _error(api_client.post(f"{ORDERS_PATH}/{order_no}/cancel"), 409, "order_not_open")
    assert Order.objects.get(order_no=order_no).state == "paid"


def test_a_cancel_rolled_back_closes_nothing_at_the_gateway(waiting, django_capture_on_commit_callbacks):
    order, _created = services.order_create(channel="sandbox", session_ids=[waiting.pk], notify_base="http://x")
    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        services.order_cancel(order=order)
        raise RuntimeError("the caller's transaction fails")
    assert callbacks == []
    assert Order.objects.get(pk=order.pk).state == "created"
    assert SandboxTrade.objects.get(order_no=order.order_no).state == "pending"


def test_a_gateway_that_cannot_start_the_payment_closes_the_order_again(api_client, waiting):
    @providers.register
    class Unreachable(PaymentProvider):  # a gateway that is down: every call fails as over HTTP
        code, name = "down", "不可达"

        def is_configured(self):
            return True

        def start(self, request):
            raise ProviderError("connect timeout")

    try:
        _error(order_for(api_client, [waiting.pk], channel="down"), 502, "provider_unavailable")
    finally:
        providers.unregister("down")
    order = Order.objects.get()
    assert (order.state, order.close_reason) == ("closed", "not_started")
    assert not OrderItem.objects.filter(open=True).exists()
    assert order_for(api_client, [waiting.pk]).status_code == 201  # the stay can be ordered again


def test_pay_due_costs_a_bounded_number_of_queries(api_client, gate, django_assert_max_num_queries):
    gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    with django_assert_max_num_queries(4):  # the lot, the stays, the tariff's free windows, the last payments
        assert api_client.get("/api/v1/pay/due", {"lot": gate.lot.code, "plate": "苏B12345"}).status_code == 200


def test_an_expired_order_overlapping_the_debts_does_not_block_them(api_client, gate, bind):
    first_stay = stay_waiting(gate, minutes=90)
    first = _arrears(first_stay)
    second_stay = stay_waiting(gate, minutes=60)  # the same plate again, another stay left unpaid
    second = _arrears(second_stay)
    user = UserFactory()
    bind(user, first_stay.plate)
    api_client.force_authenticate(user)
    old = api_client.post(ORDERS_PATH, {"arrears_ids": [first.pk], "channel": "sandbox"}, format="json").json()
    both = {"arrears_ids": [first.pk, second.pk], "channel": "sandbox"}
    _error(api_client.post(ORDERS_PATH, both, format="json"), 409, "debt_in_open_order")
    Order.objects.filter(order_no=old["order_no"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api_client.post(ORDERS_PATH, both, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["amount_fen"] == 600 + 400
    assert Order.objects.get(order_no=old["order_no"]).state == "closed"


@pytest.mark.parametrize("path, body", [
    ("/api/v1/payments/orders", {"session_ids": [1], "channel": "sandbox", "amount_fen": 1}),
    ("/api/v1/payments/orders", {"sesion_ids": [1], "channel": "sandbox"}),
    ("/api/v1/complaints/", {"category": "other", "description": "路灯坏了", "phone": "13912345678", "unit": "x"}),
])
def test_a_body_field_the_endpoint_does_not_take_is_refused_and_costs_nothing(api_client, city, path, body):
    from apps.complaints.models import Ticket

    response = api_client.post(path, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    unknown = next(name for name in body if name not in ("session_ids", "channel", "category", "description", "phone"))
    assert error["code"] == "unknown_parameter" and error["details"]["field"] == unknown
    assert "channel" in error["details"]["allowed"] or "category" in error["details"]["allowed"]
    assert not Order.objects.exists() and not Ticket.objects.exists()
