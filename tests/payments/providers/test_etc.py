"""ETC against a fake issuer speaking the wire format documented in apps/payments/providers/etc.py."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.payments import providers
from apps.payments.providers import etc  # noqa: F401  (registers)
from apps.payments.providers.base import NoticeRefused, PaymentResult, ProviderError, RefundRequest
from tests.payments.fakes import order_no, pay_request


def provider():
    return providers.get("etc")


def charge(gw_plate="苏B12345", no=None, amount=700):
    end = timezone.now().replace(microsecond=0)
    return provider().agreement_charge(agreement_ref="3201230000000001", plate=gw_plate, order_no=no or order_no(),
                                       amount_fen=amount, description="停车费",
                                       notify_url="https://pay.example.cn/payments/notify/etc/",
                                       start_at=end - timedelta(hours=3), end_at=end, plate_color="blue")


def test_not_a_citizen_channel_but_charges_agreements(etc_gw):
    assert provider().is_configured() is True
    assert provider().citizen_channel is False and provider().supports_agreements is True
    assert "etc" not in providers.citizen_channels()
    with pytest.raises(ProviderError) as exc:
        provider().start(pay_request())
    assert exc.value.code == "not_a_citizen_channel"


def test_account_status(etc_gw):
    etc_gw.accounts["苏B12345"] = "NORMAL"
    etc_gw.accounts["苏B54321"] = "SUSPENDED"
    assert provider().agreement_status("苏B12345") is True
    assert provider().agreement_status("苏B54321") is False
    assert provider().agreement_status("苏B00000") is False


def test_charge_accepted_then_settled_by_notice(etc_gw):
    etc_gw.accounts["苏B12345"] = "NORMAL"
    no = order_no()
    result = charge(no=no)
    assert result.state == PaymentResult.PENDING and result.amount_fen == 700
    sent = etc_gw.charges[no]["_request"]
    assert sent["entry_at"].endswith("+08:00") and sent["account"] == "3201230000000001"
    assert provider().query(no).state == PaymentResult.PENDING
    etc_gw.settle(no)
    headers, body = etc_gw.notice(no)
    notice = provider().parse_notice(headers, body)
    assert notice.kind == "payment" and notice.payment.state == PaymentResult.PAID
    assert notice.payment.transaction_id.startswith("ETC") and notice.payment.merchant_id == etc_gw.merchant_id
    assert provider().query(no).state == PaymentResult.PAID
    assert provider().expected_merchant() == (etc_gw.merchant_id, "")


def test_charge_settled_at_once_and_refunded(etc_gw):
    etc_gw.accounts["苏B12345"] = "NORMAL"
    etc_gw.settle_at_once = True
    no = order_no()
    assert charge(no=no).state == PaymentResult.PAID
    result = provider().refund(RefundRequest(order_no=no, refund_no="RF1", amount_fen=200, order_amount_fen=700,
                                             reason="x"))
    assert result.state == "succeeded" and result.amount_fen == 200
    with pytest.raises(ProviderError) as exc:
        provider().refund(RefundRequest(order_no=no, refund_no="RF2", amount_fen=900, order_amount_fen=700,
                                        reason="x"))
    assert exc.value.code == "REFUND_NOT_ALLOWED" and exc.value.retry is False
    with pytest.raises(ProviderError) as exc:
        provider().close(no)
    assert exc.value.code == "order_paid"


def test_refused_charge_is_closed_and_failed_notice_is_closed(etc_gw):
    assert charge("苏B99999").state == PaymentResult.CLOSED  # no account
    etc_gw.accounts["苏B12345"] = "NORMAL"
    no = order_no()
    charge(no=no)
    etc_gw.settle(no, ok=False)
    headers, body = etc_gw.notice(no)
    assert provider().parse_notice(headers, body).payment.state == PaymentResult.CLOSED


def test_close_and_unknown(etc_gw):
    etc_gw.accounts["苏B12345"] = "NORMAL"
    no = order_no()
    charge(no=no)
    provider().close(no)
    assert provider().query(no).state == PaymentResult.CLOSED
    provider().close("WXNOSUCH00000000001")
    assert provider().query("WXNOSUCH00000000001").state == PaymentResult.CLOSED


def test_requests_with_the_wrong_key_and_forged_answers_fail(etc_gw, settings):
    etc_gw.answer_key = "f" * 64
    with pytest.raises(ProviderError) as exc:
        provider().agreement_status("苏B12345")
    assert exc.value.code == "bad_response"
    etc_gw.answer_key = None
    settings.ETC_KEY = "0" * 64
    with pytest.raises(ProviderError) as exc:  # the issuer refuses us, and its refusal fails our check
        provider().agreement_status("苏B12345")
    assert exc.value.code == "bad_response"
    assert etc_gw.calls  # it did reach the issuer


def test_refund_notice(etc_gw):
    headers, body = etc_gw.notice(event="refund.succeeded", data={"out_refund_no": "RF1", "refund_id": "R1",
                                                                 "state": "SUCCESS", "amount_fen": 200})
    notice = provider().parse_notice(headers, body)
    assert notice.kind == "refund" and notice.refund.state == "succeeded" and notice.refund.amount_fen == 200


@pytest.fixture
def settled(etc_gw):
    etc_gw.accounts["苏B12345"] = "NORMAL"
    no = order_no()
    charge(no=no)
    etc_gw.settle(no)
    return no, etc_gw


def test_forged_notices_are_refused(settled):
    no, gw = settled
    _, body = gw.notice(no)
    cases = [
        gw.notice(no, key="e" * 64),
        gw.notice(no, timestamp=int(time.time()) - 301),
        gw.notice(no, merchant="ETC-SOMEONE-ELSE"),
    ]
    headers, _ = gw.notice(no)
    tampered = body.replace(b'"amount_fen": 700', b'"amount_fen": 1')
    assert tampered != body
    cases.append((headers, tampered))
    for name in ("X-ETC-Signature", "X-ETC-Timestamp", "X-ETC-Nonce", "X-ETC-Merchant"):
        cases.append(({k: v for k, v in headers.items() if k != name}, body))
    cases.append((gw.sign_headers("not json"), b"not json"))
    cases.append((gw.sign_headers("[]"), b"[]"))
    cases.append((gw.sign_headers('{"event":"x","data":{}}'), b'{"event":"x","data":{}}'))
    cases.append((gw.sign_headers(""), b"\xff"))
    for headers, forged in cases:
        with pytest.raises(NoticeRefused):
            provider().parse_notice(headers, forged)


def test_acknowledge_and_refuse():
    assert provider().acknowledge().status == 200
    refusal = provider().refuse("签名错误")
    assert refusal.status == 400 and json.loads(refusal.body) == {"code": "FAIL", "message": "签名错误"}
