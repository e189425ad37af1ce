"""Alipay (RSA2) against a fake gateway.do that checks our signatures and signs its answers."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.utils import timezone

from apps.payments import providers
from apps.payments.providers import alipay  # noqa: F401  (registers)
from apps.payments.providers.base import NoticeRefused, PaymentResult, ProviderError, RefundRequest, StatementRow
from tests.payments.fakes import KeyPair, pay_request


def provider():
    return providers.get("alipay")


def test_start_gives_a_signed_wap_pay_url(alipay_gw):
    request = pay_request(amount_fen=1205)
    pay = provider().start(request)
    assert set(pay) == {"pay_url"}
    assert pay["pay_url"].startswith(alipay_gw.gateway + "?")
    params = alipay_gw.open_page(pay["pay_url"])  # the fake checks the RSA2 signature
    biz = json.loads(params["biz_content"])
    assert biz["out_trade_no"] == request.order_no and biz["total_amount"] == "12.05"
    assert biz["product_code"] == "QUICK_WAP_PAY" and biz["quit_url"] == request.return_url
    assert params["notify_url"] == request.notify_url and params["return_url"] == request.return_url
    assert provider().expected_merchant() == (alipay_gw.seller_id, alipay_gw.app_id)


def test_a_pay_url_signed_with_another_key_does_not_verify(alipay_gw, settings):
    settings.ALIPAY_PRIVATE_KEY = KeyPair().private_pem
    pay = provider().start(pay_request())
    with pytest.raises(AssertionError):
        alipay_gw.open_page(pay["pay_url"])


def test_query_pending_paid_closed(alipay_gw):
    request = pay_request()
    assert provider().query(request.order_no).state == PaymentResult.PENDING  # never opened
    alipay_gw.open_page(provider().start(request)["pay_url"])
    assert provider().query(request.order_no).state == PaymentResult.PENDING
    trade = alipay_gw.pay(request.order_no)
    result = provider().query(request.order_no)
    assert result.state == PaymentResult.PAID and result.amount_fen == 1250
    assert result.transaction_id == trade["trade_no"] and result.paid_at.utcoffset() == timedelta(hours=8)
    assert (result.merchant_id, result.app_id) == provider().expected_merchant()  # the answer names neither

    other = pay_request()
    alipay_gw.open_page(provider().start(other)["pay_url"])
    provider().close(other.order_no)
    assert provider().query(other.order_no).state == PaymentResult.CLOSED
    provider().close(other.order_no)  # closing again is quiet
    provider().close("WXNEVERSEEN0000000001")


def test_close_of_a_paid_order_says_so(alipay_gw):
    request = pay_request()
    alipay_gw.open_page(provider().start(request)["pay_url"])
    alipay_gw.pay(request.order_no)
    with pytest.raises(ProviderError) as exc:
        provider().close(request.order_no)
    assert exc.value.code == "order_paid"


def test_forged_answer_and_rejected_request_are_provider_errors(alipay_gw, settings):
    alipay_gw.answer_key = KeyPair()
    with pytest.raises(ProviderError) as exc:
        provider().query("WX0000000000000000001")
    assert exc.value.code == "bad_response"
    alipay_gw.answer_key = None
    settings.ALIPAY_PRIVATE_KEY = KeyPair().private_pem
    with pytest.raises(ProviderError) as exc:
        provider().query("WX0000000000000000001")
    assert exc.value.code == "refused" and exc.value.retry is False


def test_unreachable_gateway_is_retryable(alipay_gw, settings):
    settings.ALIPAY_API_BASE = "http://127.0.0.1:9/gateway.do"
    with pytest.raises(ProviderError) as exc:
        provider().query("WX0000000000000000001")
    assert exc.value.retry is True


def test_refund(alipay_gw):
    request = pay_request()
    alipay_gw.open_page(provider().start(request)["pay_url"])
    trade = alipay_gw.pay(request.order_no)
    result = provider().refund(RefundRequest(order_no=request.order_no, refund_no="RF01", amount_fen=250,
                                             order_amount_fen=1250, reason="多收", transaction_id=trade["trade_no"]))
    assert result.state == "succeeded" and result.amount_fen == 250
    assert trade["_refunds"][0] == {"refund_amount": "2.50", "out_request_no": "RF01", "refund_reason": "多收",
                                    "trade_no": trade["trade_no"]}
    too_much = provider().refund(RefundRequest(order_no=request.order_no, refund_no="RF02", amount_fen=1100,
                                               order_amount_fen=1250, reason="x"))
    assert too_much.state == "failed" and too_much.raw["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"


# --- notices -----------------------------------------------------------------------------------
@pytest.fixture
def paid(alipay_gw):
    request = pay_request()
    alipay_gw.open_page(provider().start(request)["pay_url"])
    alipay_gw.pay(request.order_no)
    return request, alipay_gw


def test_genuine_notice_is_decoded(paid):
    request, gw = paid
    notice = provider().parse_notice({"Content-Type": "application/x-www-form-urlencoded"}, gw.notice(request.order_no))
    assert notice.kind == "payment"
    payment = notice.payment
    assert payment.order_no == request.order_no and payment.state == PaymentResult.PAID
    assert payment.amount_fen == 1250 and payment.transaction_id == gw.trades[request.order_no]["trade_no"]
    assert (payment.merchant_id, payment.app_id) == (gw.seller_id, gw.app_id)
    assert payment.paid_at is not None and notice.notice_id


def test_forged_notices_are_refused(paid):
    request, gw = paid
    cases = {
        "bad sign": gw.notice(request.order_no, key=KeyPair()),
        "unsigned": gw.notice(request.order_no, sign=False),
    }
    tampered = dict(parse_qsl(gw.notice(request.order_no).decode()))
    tampered["total_amount"] = "0.01"
    cases["tampered"] = urlencode(tampered).encode()
    rsa1 = dict(parse_qsl(gw.notice(request.order_no).decode()))
    rsa1["sign_type"] = "RSA"
    cases["sign_type RSA"] = urlencode(rsa1).encode()
    garbage = dict(parse_qsl(gw.notice(request.order_no).decode()))
    garbage["sign"] = "%%%not base64"
    cases["garbage sign"] = urlencode(garbage).encode()
    cases["not a form"] = b"\xff\xfe\x00"
    cases["empty"] = b""
    reasons = {"unsigned": "unsigned", "sign_type RSA": "unsigned", "not a form": "form", "empty": "unsigned"}
    for name, body in cases.items():
        with pytest.raises(NoticeRefused) as exc:
            provider().parse_notice({}, body)
        assert reasons.get(name, "bad sign") in str(exc.value), name


def test_closed_and_refund_notices(paid):
    request, gw = paid
    closed = gw.notice(fields={"notify_id": "n1", "app_id": gw.app_id, "out_trade_no": "WXOTHER000000000001",
                               "trade_no": "2026X", "trade_status": "TRADE_CLOSED", "total_amount": "3.00",
                               "seller_id": gw.seller_id})
    assert provider().parse_notice({}, closed).payment.state == PaymentResult.CLOSED
    refund = gw.notice(fields={"notify_id": "n2", "app_id": gw.app_id, "out_trade_no": request.order_no,
                               "trade_no": gw.trades[request.order_no]["trade_no"], "trade_status": "TRADE_SUCCESS",
                               "total_amount": "12.50", "refund_fee": "2.50", "out_biz_no": "RF01",
                               "gmt_refund": "2026-12-01 12:00:00.123", "seller_id": gw.seller_id})
    notice = provider().parse_notice({}, refund)
    assert notice.kind == "refund" and notice.refund.refund_no == "RF01" and notice.refund.amount_fen == 250


def test_acknowledge_and_refuse():
    assert provider().acknowledge().body == b"success"
    assert provider().refuse("bad").body == b"fail" and provider().refuse("bad").status >= 400


# --- agreement deduction -----------------------------------------------------------------------
def test_agreement_status_and_charge(alipay_gw):
    alipay_gw.agreements["20215000000000001"] = "NORMAL"
    alipay_gw.agreements["20215000000000002"] = "STOP"
    assert provider().agreement_status("苏B12345", agreement_ref="20215000000000001") is True
    assert provider().agreement_status("苏B12345", agreement_ref="20215000000000002") is False
    assert provider().agreement_status("苏B12345", agreement_ref="20215000000009999") is False
    end = timezone.now()
    request = pay_request()
    result = provider().agreement_charge(agreement_ref="20215000000000001", plate="苏B12345",
                                         order_no=request.order_no, amount_fen=600, description="停车费",
                                         notify_url=request.notify_url, start_at=end - timedelta(hours=1), end_at=end)
    assert result.state == PaymentResult.PAID and result.amount_fen == 600 and result.transaction_id
    assert (result.merchant_id, result.app_id) == provider().expected_merchant()
    _, path, _, _ = alipay_gw.calls[-1]
    params = dict(parse_qsl(urlsplit(path).query))
    assert params["notify_url"] == request.notify_url
    assert json.loads(params["biz_content"])["product_code"] == "GENERAL_WITHHOLDING"
    refused = provider().agreement_charge(agreement_ref="20215000000000002", plate="苏B12345",
                                          order_no=pay_request().order_no, amount_fen=600, description="停车费",
                                          notify_url=request.notify_url, start_at=end - timedelta(hours=1),
                                          end_at=end)
    assert refused.state == PaymentResult.CLOSED and refused.raw["sub_code"] == "ACQ.AGREEMENT_INVALID"


# --- statements --------------------------------------------------------------------------------
def test_statement_is_parsed(alipay_gw):
    first, second = pay_request(amount_fen=1250), pay_request(amount_fen=99)
    for request in (first, second):
        alipay_gw.open_page(provider().start(request)["pay_url"])
        alipay_gw.pay(request.order_no)
    alipay_gw.open_page(provider().start(pay_request())["pay_url"])  # opened, never paid
    provider().refund(RefundRequest(order_no=first.order_no, refund_no="RF9", amount_fen=50,
                                    order_amount_fen=1250, reason="x"))
    rows = provider().parse_statement(alipay_gw.statement())
    payments = {row.order_no: row.amount_fen for row in rows if row.kind == StatementRow.PAYMENT}
    assert payments == {first.order_no: 1250, second.order_no: 99}
    refunds = [row for row in rows if row.kind == StatementRow.REFUND]
    assert [(r.order_no, r.refund_no, r.amount_fen) for r in refunds] == [(first.order_no, "RF9", 50)]
    assert all(row.transaction_id.startswith("2026") and row.at.utcoffset() == timedelta(hours=8) for row in rows)
