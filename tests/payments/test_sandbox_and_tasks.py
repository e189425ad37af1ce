"""The sandbox cashier pays through the same callback as any wallet (over real HTTP), and the periodic
check settles orders whose notice never came: paid at the gateway → paid here; otherwise closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.payments import providers, sandbox, services
from apps.payments.models import Order, SandboxTrade
from apps.payments.providers.base import PaymentProvider, ProviderError, RefundRequest
from apps.sessions.models import ParkingSession
from tests.factories_payments import Gate, flat_lot, order_for, stay_waiting

pytestmark = [pytest.mark.django_db, pytest.mark.midday]


@pytest.fixture
def order(api_client):
    stay = stay_waiting(Gate(flat_lot()))
    return Order.objects.get(order_no=order_for(api_client, [stay.pk]).json()["order_no"])


def test_the_cashier_page_shows_the_amount_and_a_pay_button(client, order):
    response = client.get(f"/pay/cashier/{order.order_no}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "¥6.00" in page and 'id="btn-sandbox-pay"' in page


def test_the_cashier_is_not_there_when_the_sandbox_is_off(client, order, settings):
    settings.PAYMENT_SANDBOX = False
    assert client.get(f"/pay/cashier/{order.order_no}/").status_code == 404


def test_the_cashier_refuses_an_expired_trade(client, order):
    SandboxTrade.objects.filter(order_no=order.order_no).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(f"/pay/cashier/{order.order_no}/")
    assert response.status_code == 200 and "无法支付" in response.content.decode()
    assert SandboxTrade.objects.get(order_no=order.order_no).state == "pending"


@pytest.mark.django_db(transaction=True)
def test_paying_at_the_cashier_sends_the_notice_over_http_and_pays_the_order(live_server):
    """The gateway's notice travels over HTTP to /payments/notify/sandbox/ and is verified there."""
    stay = stay_waiting(Gate(flat_lot()))
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        order_no = order_for(APIClient(), [stay.pk]).json()["order_no"]
    trade = SandboxTrade.objects.get(order_no=order_no)
    assert trade.notify_url == f"{live_server.url}/payments/notify/sandbox/"
    response = Client().post(f"/pay/cashier/{order_no}/")
    assert response.status_code == 302 and response["Location"] == trade.return_url
    assert Order.objects.get(order_no=order_no).state == "paid"
    assert ParkingSession.objects.get(pk=stay.pk).due_fen == 0
    assert Client().post(f"/pay/cashier/{order_no}/").status_code == 302  # a second press: nothing more
    assert ParkingSession.objects.get(pk=stay.pk).paid_fen == 600


def test_an_order_paid_whose_notice_never_came_is_marked_paid_by_the_check(django_capture_on_commit_callbacks):
    stay = stay_waiting(Gate(flat_lot()))
    # The platform's callback address answers nothing (nothing listens on port 9): the notice is lost.
    order, _created = services.order_create(channel="sandbox", session_ids=[stay.pk], notify_base="http://127.0.0.1:9")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sandbox.trade_pay(order.order_no)
    assert len(callbacks) == 1  # the gateway tried to send it
    assert Order.objects.get(pk=order.pk).state == "created"
    later = order.expires_at + timedelta(seconds=1)
    assert services.orders_reconcile(now=later) == {"paid": 1}
    order.refresh_from_db()
    assert order.state == "paid"
    assert ParkingSession.objects.get().due_fen == 0
    assert services.orders_reconcile(now=later) == {}


def test_an_unpaid_order_past_its_time_is_closed_here_and_at_the_gateway(order, django_capture_on_commit_callbacks):
    assert services.orders_reconcile(now=order.expires_at - timedelta(seconds=1)) == {}
    with django_capture_on_commit_callbacks(execute=True):
        assert services.orders_reconcile(now=order.expires_at + timedelta(seconds=1)) == {"closed": 1}
    order.refresh_from_db()
    assert (order.state, order.close_reason) == ("closed", "expired")
    assert SandboxTrade.objects.get(order_no=order.order_no).state == "closed"
    assert not order.items.filter(open=True).exists()


def test_a_gateway_that_cannot_answer_leaves_the_order_for_the_next_run(order):
    @providers.register
    class Unreachable(PaymentProvider):  # a gateway that is down: every call fails as over HTTP
        code, name = "down", "不可达"

        def query(self, order_no, *, placed_at=None):
            raise ProviderError("connect timeout")

    Order.objects.filter(pk=order.pk).update(channel="down")
    try:
        assert services.orders_reconcile(now=order.expires_at + timedelta(seconds=1)) == {"error": 1}
    finally:
        providers.unregister("down")
    assert Order.objects.get(pk=order.pk).state == "created"


def test_the_check_is_scheduled_for_celery_beat_and_the_embedded_scheduler():
    from apps.sessions.management.commands.run_scheduler import Command

    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-orders"]
    assert entry["task"] == "apps.payments.tasks.reconcile_orders"
    assert "reconcile-orders" in [name for name, _task, _schedule in Command.load(settings.CELERY_BEAT_SCHEDULE)]


def test_the_sandbox_refunds_what_was_paid_and_no_more(order):
    sandbox.trade_pay(order.order_no)  # (its notice is sent after commit: not in this test's transaction)
    provider = providers.get("sandbox")
    request = RefundRequest(order_no=order.order_no, refund_no="R1", amount_fen=200, order_amount_fen=600, reason="x")
    first = provider.refund(request)
    assert first.state == "succeeded" and first.refund_id
    assert provider.refund(request).refund_id == first.refund_id  # the same refund number: the same refund
    with pytest.raises(ProviderError):
        provider.refund(RefundRequest(order_no=order.order_no, refund_no="R2", amount_fen=401, order_amount_fen=600,
                                      reason="x"))
    assert SandboxTrade.objects.get(order_no=order.order_no).refunded_fen == 200


def test_the_check_goes_on_batch_after_batch_until_done_or_out_of_time(django_capture_on_commit_callbacks):
    gate = Gate(flat_lot())
    orders = [services.order_create(channel="sandbox", session_ids=[stay_waiting(gate, plate).pk],
                                    notify_base="http://127.0.0.1:9")[0]
              for plate in ("苏B20001", "苏B20002", "苏B20003", "苏B20004", "苏B20005")]
    later = max(order.expires_at for order in orders) + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.orders_reconcile(now=later, limit=2, budget_s=0) == {"closed": 2}  # out of time: one batch
        assert services.orders_reconcile(now=later, limit=2) == {"closed": 3}  # the rest, in two more batches
    assert set(Order.objects.values_list("state", flat=True)) == {"closed"}
