"""WeChat Pay, Alipay and UnionPay through the callback view and the periodic query, end to end: an
order made through the API, paid at the fake gateway, its notice posted to /payments/notify/<channel>/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.payments import services
from apps.payments.models import Order, PaymentException
from apps.sessions.models import ParkingSession
from tests.factories_payments import Gate, flat_lot, order_for, stay_waiting
from tests.payments import fakes

wechat_gw, alipay_gw, unionpay_gw = fakes.wechat_gw, fakes.alipay_gw, fakes.unionpay_gw
pytestmark = [pytest.mark.django_db, pytest.mark.midday]


@pytest.fixture
def gate():
    return Gate(flat_lot())


def test_wechat_pays_through_the_callback_once(api_client, client, gate, wechat_gw):
    stay = stay_waiting(gate, minutes=90)
    response = order_for(api_client, [stay.pk], channel="wechat")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["pay"]["trade_type"] == "NATIVE", data
    wechat_gw.pay(data["order_no"])
    headers, body = wechat_gw.notice(data["order_no"])
    answer = client.post("/payments/notify/wechat/", body, content_type="application/json", headers=headers)
    assert answer.status_code in (200, 204), answer.content
    order = Order.objects.get(order_no=data["order_no"])
    assert order.state == "paid"
    assert ParkingSession.objects.get().due_fen == 0
    # the same notice again: acknowledged, nothing changes
    answer = client.post("/payments/notify/wechat/", body, content_type="application/json", headers=headers)
    assert answer.status_code in (200, 204)
    # a notice signed for another key id: refused
    headers2, body2 = wechat_gw.notice(data["order_no"], serial="X")
    answer = client.post("/payments/notify/wechat/", body2, content_type="application/json", headers=headers2)
    assert answer.status_code == 400 and answer.json()["code"] == "FAIL"
    assert not PaymentException.objects.exists()


def test_a_genuine_wechat_notice_for_another_merchant_opens_an_exception(api_client, client, gate, wechat_gw):
    stay = stay_waiting(gate, minutes=90)
    data = order_for(api_client, [stay.pk], channel="wechat").json()
    order = wechat_gw.pay(data["order_no"])
    resource = {k: v for k, v in order.items() if not k.startswith("_")}
    resource["mchid"] = "999"
    headers, body = wechat_gw.notice(resource=resource)
    answer = client.post("/payments/notify/wechat/", body, content_type="application/json", headers=headers)
    assert answer.status_code in (200, 204), answer.content
    assert Order.objects.get(order_no=data["order_no"]).state == "created"
    assert PaymentException.objects.exists()


def test_alipay_pays_through_the_callback(api_client, client, gate, alipay_gw):
    stay = stay_waiting(gate, minutes=90)
    response = order_for(api_client, [stay.pk], channel="alipay")
    assert response.status_code == 201, response.content
    data = response.json()
    alipay_gw.open_page(data["pay"]["pay_url"])
    alipay_gw.pay(data["order_no"])
    answer = client.post("/payments/notify/alipay/", alipay_gw.notice(data["order_no"]),
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200 and answer.content == b"success"
    assert Order.objects.get(order_no=data["order_no"]).state == "paid"


def test_unionpay_pays_through_the_callback(api_client, client, gate, unionpay_gw):
    stay = stay_waiting(gate, minutes=90)
    response = order_for(api_client, [stay.pk], channel="unionpay")
    assert response.status_code == 201, response.content
    data = response.json()
    unionpay_gw.open_page(data["pay"])
    unionpay_gw.pay(data["order_no"])
    answer = client.post("/payments/notify/unionpay/", unionpay_gw.notice(data["order_no"]),
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200, answer.content
    assert Order.objects.get(order_no=data["order_no"]).state == "paid"


@pytest.mark.parametrize("channel", ["wechat", "alipay"])
def test_a_notice_that_never_came_is_found_by_the_periodic_query(api_client, gate, channel, request):
    gw = request.getfixturevalue(f"{channel}_gw")
    stay = stay_waiting(gate, minutes=90)
    data = order_for(api_client, [stay.pk], channel=channel).json()
    if channel == "alipay":
        gw.open_page(data["pay"]["pay_url"])
    gw.pay(data["order_no"])
    order = Order.objects.get(order_no=data["order_no"])
    services.order_reconcile(order, now=order.expires_at + timedelta(minutes=1))
    assert Order.objects.get(order_no=data["order_no"]).state == "paid"
