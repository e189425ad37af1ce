"""UnionPay 全渠道 against a fake gateway that checks our certificate's signature and signs back."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest

from apps.payments import providers
from apps.payments.providers import unionpay
from apps.payments.providers.base import NoticeRefused, PaymentResult, ProviderError, RefundRequest
from tests.payments.fakes import KeyPair, pay_request, unionpay_sign


def provider():
    return providers.get("unionpay")


def test_start_gives_the_signed_front_form(unionpay_gw):
    request = pay_request(amount_fen=1250)
    pay = provider().start(request)
    assert pay["pay_url"].startswith(unionpay_gw.url + "/gateway/api/frontTransReq.do?")
    assert pay["form"]["method"] == "POST"
    assert pay["form"]["action"] == unionpay_gw.url + "/gateway/api/frontTransReq.do"
    fields = unionpay_gw.open_page(pay)  # the fake verifies the signature with our certificate's key
    assert fields["txnType"] == "01" and fields["txnAmt"] == "1250" and fields["orderId"] == request.order_no
    assert fields["backUrl"] == request.notify_url and fields["frontUrl"] == request.return_url
    assert fields["txnTime"] == request.placed_at.strftime("%Y%m%d%H%M%S")
    assert fields["payTimeout"] == request.expires_at.strftime("%Y%m%d%H%M%S")
    assert fields["certId"] == unionpay_gw.cert_id


def test_signature_is_over_the_hex_digest_of_the_sorted_fields():
    key = KeyPair()
    fields = {"b": "2", "a": "1", "signature": "ignored"}
    import hashlib

    expected = hashlib.sha256(b"a=1&b=2").hexdigest().encode()
    assert unionpay.signing_string(fields) == expected
    assert key.verify(expected, unionpay_sign(key, fields))


def test_answers_split_outside_braces():
    assert unionpay.parse_answer("a=1&reserved={x=1&y=2}&b=") == {"a": "1", "reserved": "{x=1&y=2}", "b": ""}


def test_query_pending_paid_and_failed(unionpay_gw):
    request = pay_request()
    pay = provider().start(request)
    assert provider().query(request.order_no, placed_at=request.placed_at).state == PaymentResult.PENDING
    unionpay_gw.open_page(pay)
    unionpay_gw.trades[request.order_no]["respCode"] = "05"
    assert provider().query(request.order_no, placed_at=request.placed_at).state == PaymentResult.PENDING
    trade = unionpay_gw.pay(request.order_no)
    result = provider().query(request.order_no, placed_at=request.placed_at)
    assert result.state == PaymentResult.PAID and result.amount_fen == 1250
    assert result.transaction_id == trade["queryId"] and result.merchant_id == unionpay_gw.mer_id
    assert result.paid_at is not None and result.paid_at.utcoffset() == timedelta(hours=8)

    failed = pay_request()
    unionpay_gw.open_page(provider().start(failed))
    unionpay_gw.pay(failed.order_no, resp_code="51")  # insufficient funds
    assert provider().query(failed.order_no, placed_at=failed.placed_at).state == PaymentResult.CLOSED

    with pytest.raises(ProviderError) as exc:
        provider().query(request.order_no)
    assert exc.value.code == "placed_at_required"


def test_close_calls_nothing(unionpay_gw):
    provider().close("WX00000000000000001")
    assert unionpay_gw.calls == []


def test_requests_signed_with_another_key_are_refused(unionpay_gw, settings):
    settings.UNIONPAY_SIGN_KEY = KeyPair().private_pem
    request = pay_request()
    with pytest.raises(ProviderError) as exc:
        provider().query(request.order_no, placed_at=request.placed_at)
    assert exc.value.code == "11"


def test_forged_answer_is_refused(unionpay_gw):
    unionpay_gw.answer_key = KeyPair()
    request = pay_request()
    with pytest.raises(ProviderError) as exc:
        provider().query(request.order_no, placed_at=request.placed_at)
    assert exc.value.code == "bad_response"


def test_refund_is_accepted_then_notified(unionpay_gw):
    request = pay_request()
    unionpay_gw.open_page(provider().start(request))
    trade = unionpay_gw.pay(request.order_no)
    result = provider().refund(RefundRequest(order_no=request.order_no, refund_no="RF0000001", amount_fen=300,
                                             order_amount_fen=1250, reason="x", transaction_id=trade["queryId"],
                                             notify_url="https://pay.example.cn/payments/notify/unionpay/"))
    assert result.state == "processing" and result.refund_id
    sent = unionpay_gw.refunds["RF0000001"]
    assert sent["origQryId"] == trade["queryId"] and sent["txnAmt"] == "300"
    too_much = provider().refund(RefundRequest(order_no=request.order_no, refund_no="RF0000002", amount_fen=5000,
                                               order_amount_fen=1250, reason="x", transaction_id=trade["queryId"]))
    assert too_much.state == "failed"

    body = unionpay_gw.notice(fields={"txnType": "04", "orderId": "RF0000001", "respCode": "00",
                                      "queryId": sent["queryId"], "txnAmt": "300", "merId": unionpay_gw.mer_id,
                                      "origQryId": trade["queryId"]})
    notice = provider().parse_notice({}, body)
    assert notice.kind == "refund" and notice.refund.state == "succeeded" and notice.refund.amount_fen == 300


@pytest.fixture
def paid(unionpay_gw):
    request = pay_request()
    unionpay_gw.open_page(provider().start(request))
    unionpay_gw.pay(request.order_no)
    return request, unionpay_gw


def test_genuine_back_notification_is_decoded(paid):
    request, gw = paid
    notice = provider().parse_notice({}, gw.notice(request.order_no))
    assert notice.kind == "payment"
    payment = notice.payment
    assert payment.order_no == request.order_no and payment.state == PaymentResult.PAID
    assert payment.amount_fen == 1250 and payment.merchant_id == gw.mer_id
    assert payment.transaction_id == gw.trades[request.order_no]["queryId"]
    assert provider().expected_merchant() == (gw.mer_id, "")


def test_forged_notifications_are_refused(paid):
    request, gw = paid
    tampered = dict(parse_qsl(gw.notice(request.order_no).decode()))
    tampered["txnAmt"] = "1"
    for body in (gw.notice(request.order_no, key=KeyPair()), gw.notice(request.order_no, sign=False),
                 urlencode(tampered).encode(), b"\xff\xfe", b"",
                 urlencode({**tampered, "signature": "not base64!"}).encode()):
        with pytest.raises(NoticeRefused):
            provider().parse_notice({}, body)


def test_failed_payment_notice_is_closed(paid):
    request, gw = paid
    gw.trades[request.order_no]["respCode"] = "51"
    assert provider().parse_notice({}, gw.notice(request.order_no)).payment.state == PaymentResult.CLOSED


def test_verify_key_may_be_a_certificate(paid, settings):
    """UnionPay hands out its verification key as a certificate; the provider takes either."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    request, gw = paid
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "China UnionPay verify")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(gw.unionpay.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(gw.unionpay.key, hashes.SHA256()))
    settings.UNIONPAY_VERIFY_KEY = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert provider().parse_notice({}, gw.notice(request.order_no)).payment.state == PaymentResult.PAID


def test_acknowledge_and_refuse():
    assert provider().acknowledge().status == 200
    assert provider().refuse("x").status >= 400
