"""WeChat Pay v3 against a fake gateway that checks our signatures and signs its answers."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apps.payments import providers
from apps.payments.providers import wechat  # noqa: F401  (registers)
from apps.payments.providers.base import NoticeRefused, PaymentResult, ProviderError, RefundRequest, StatementRow
from tests.payments.fakes import KeyPair, WeChatGateway, pay_request


def provider():
    return providers.get("wechat")


def test_configured_is_offered(wechat_gw):
    assert provider().is_configured() is True
    assert "wechat" in providers.citizen_channels()
    assert provider().expected_merchant() == (wechat_gw.mch_id, wechat_gw.app_id)


def test_native_start_gives_code_url_and_signs_the_request(wechat_gw):
    request = pay_request(client_ip="10.1.2.3")
    pay = provider().start(request)
    assert pay["trade_type"] == "NATIVE"
    assert pay["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    sent = wechat_gw.orders[request.order_no]["_request"]
    assert sent["amount"] == {"total": 1250, "currency": "CNY"}
    assert sent["notify_url"] == request.notify_url
    assert sent["time_expire"].endswith("+08:00")
    assert sent["scene_info"] == {"payer_client_ip": "10.1.2.3"}
    assert wechat_gw.paths() == ["POST /v3/pay/transactions/native"]


def test_jsapi_start_gives_signed_bridge_parameters(wechat_gw):
    request = pay_request(openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    pay = provider().start(request)
    assert pay["trade_type"] == "JSAPI"
    jsapi = pay["jsapi"]
    assert set(jsapi) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert jsapi["appId"] == wechat_gw.app_id and jsapi["signType"] == "RSA"
    assert jsapi["package"].startswith("prepay_id=wx")
    message = f"{jsapi['appId']}\n{jsapi['timeStamp']}\n{jsapi['nonceStr']}\n{jsapi['package']}\n".encode()
    assert wechat_gw.merchant.verify(message, jsapi["paySign"])  # what WeChat's client checks
    assert wechat_gw.orders[request.order_no]["_request"]["payer"] == {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}


def test_a_request_we_sign_with_another_key_is_refused_by_the_gateway(wechat_gw, settings):
    settings.WECHAT_PAY_MCH_PRIVATE_KEY = KeyPair().private_pem
    with pytest.raises(ProviderError) as exc:
        provider().start(pay_request())
    assert exc.value.code == "SIGN_ERROR" and exc.value.retry is False


def test_an_answer_not_signed_by_wechat_is_refused(wechat_gw):
    wechat_gw.answer_key = KeyPair()
    with pytest.raises(ProviderError) as exc:
        provider().start(pay_request())
    assert exc.value.code == "bad_response"


def test_api_base_reaches_every_call(wechat_gw, settings):
    settings.WECHAT_PAY_API_BASE = "http://127.0.0.1:9"  # nothing listens: the call must fail there
    with pytest.raises(ProviderError) as exc:
        provider().query("WXNOSUCHORDER0000000001")
    assert exc.value.retry is True
    assert wechat_gw.calls == []


def test_query_pending_paid_closed_and_unknown(wechat_gw):
    request = pay_request()
    provider().start(request)
    assert provider().query(request.order_no).state == PaymentResult.PENDING
    wechat_gw.pay(request.order_no)
    result = provider().query(request.order_no)
    assert result.state == PaymentResult.PAID
    assert result.amount_fen == 1250
    assert result.transaction_id == wechat_gw.orders[request.order_no]["transaction_id"]
    assert (result.merchant_id, result.app_id) == (wechat_gw.mch_id, wechat_gw.app_id)
    assert result.paid_at is not None and result.paid_at.utcoffset() == timedelta(hours=8)

    other = pay_request()
    provider().start(other)
    provider().close(other.order_no)
    assert provider().query(other.order_no).state == PaymentResult.CLOSED
    assert provider().query("WXNEVERSEEN000000000001").state == PaymentResult.CLOSED


def test_close_is_quiet_for_unknown_and_loud_for_paid(wechat_gw):
    provider().close("WXNEVERSEEN000000000001")
    request = pay_request()
    provider().start(request)
    wechat_gw.pay(request.order_no)
    with pytest.raises(ProviderError) as exc:
        provider().close(request.order_no)
    assert exc.value.code == "order_paid" and exc.value.retry is False
    assert wechat_gw.orders[request.order_no]["trade_state"] == "SUCCESS"


def test_refund_partial_then_notice(wechat_gw):
    request = pay_request()
    provider().start(request)
    paid = wechat_gw.pay(request.order_no)
    result = provider().refund(RefundRequest(order_no=request.order_no, refund_no="RF" + request.order_no[2:],
                                             amount_fen=500, order_amount_fen=1250, reason="多收",
                                             transaction_id=paid["transaction_id"],
                                             notify_url="https://pay.example.cn/payments/notify/wechat/"))
    assert result.state == "processing" and result.amount_fen == 500 and result.refund_id.startswith("5030")
    sent = wechat_gw.refunds[result.refund_no]["_request"]
    assert sent["transaction_id"] == paid["transaction_id"] and sent["reason"] == "多收"

    headers, body = wechat_gw.refund_notice(result.refund_no)
    notice = provider().parse_notice(headers, body)
    assert notice.kind == "refund" and notice.payment is None
    assert notice.refund.refund_no == result.refund_no
    assert notice.refund.state == "succeeded" and notice.refund.amount_fen == 500


def test_refund_more_than_paid_is_a_provider_error(wechat_gw):
    request = pay_request()
    provider().start(request)
    wechat_gw.pay(request.order_no)
    with pytest.raises(ProviderError) as exc:
        provider().refund(RefundRequest(order_no=request.order_no, refund_no="RF1", amount_fen=2000,
                                        order_amount_fen=1250, reason="x"))
    assert exc.value.code == "INVALID_REQUEST"


# --- notices -------------------------------------------------------------------------------------
@pytest.fixture
def paid_notice(wechat_gw):
    request = pay_request(openid="oPAYER")
    provider().start(request)
    wechat_gw.pay(request.order_no, openid="oPAYER")
    return request, wechat_gw


def test_genuine_notice_is_decoded(paid_notice):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no)
    notice = provider().parse_notice(headers, body)
    assert notice.kind == "payment" and notice.refund is None
    assert notice.notice_id == json.loads(body)["id"]
    payment = notice.payment
    assert payment.order_no == request.order_no and payment.state == PaymentResult.PAID
    assert payment.amount_fen == 1250 and payment.payer == "oPAYER"
    assert (payment.merchant_id, payment.app_id) == (gw.mch_id, gw.app_id)
    assert payment.transaction_id == gw.orders[request.order_no]["transaction_id"]
    assert payment.paid_at is not None


def test_notice_headers_may_come_as_wsgi_meta(paid_notice):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no)
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    assert provider().parse_notice(meta, body).payment.order_no == request.order_no


def _refused(headers, body, reason):
    with pytest.raises(NoticeRefused) as exc:
        provider().parse_notice(headers, body)
    assert reason in str(exc.value)


def test_bad_signature_is_refused(paid_notice):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no, key=KeyPair())
    _refused(headers, body, "Signature")


def test_tampered_body_is_refused(paid_notice):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no)
    envelope = json.loads(body)
    envelope["summary"] = "改过"
    _refused(headers, json.dumps(envelope, ensure_ascii=False).encode(), "Signature")


def test_wrong_serial_is_refused(paid_notice):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no, serial="PUB_KEY_ID_SOMEONE_ELSE")
    _refused(headers, body, "Serial")


def test_stale_and_future_timestamps_are_refused(paid_notice):
    request, gw = paid_notice
    for skew in (-301, 301):
        headers, body = gw.notice(request.order_no, timestamp=int(time.time()) + skew)
        _refused(headers, body, "Timestamp")
    headers, body = gw.notice(request.order_no, timestamp=int(time.time()) - 250)
    assert provider().parse_notice(headers, body).kind == "payment"


def test_missing_headers_are_refused(paid_notice):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no)
    for name in ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"):
        _refused({k: v for k, v in headers.items() if k != name}, body, name.lower())


def test_tampered_ciphertext_is_refused(paid_notice):
    """Signed afresh by the platform key, so only the AEAD tag can catch it."""
    request, gw = paid_notice
    _, body = gw.notice(request.order_no)
    envelope = json.loads(body)
    cipher = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    cipher[0] ^= 1
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(cipher)).decode()
    text = json.dumps(envelope)
    _refused(gw.sign_headers(text), text.encode(), "decrypt")


def test_wrong_apiv3_key_is_refused(paid_notice):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no, apiv3_key="0" * 32)
    _refused(headers, body, "decrypt")


def test_signed_non_json_and_shapeless_bodies_are_refused(paid_notice):
    _, gw = paid_notice
    _refused(gw.sign_headers("not json"), b"not json", "JSON")
    _refused(gw.sign_headers("[1]"), b"[1]", "resource")
    plain = json.dumps({"id": "x", "event_type": "TRANSACTION.SUCCESS", "resource": {"algorithm": "NONE"}})
    _refused(gw.sign_headers(plain), plain.encode(), "resource")
    _refused(gw.sign_headers(""), b"\xff\xfe", "UTF-8")


def test_unknown_event_is_refused(paid_notice):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no, event_type="SOMETHING.ELSE")
    _refused(headers, body, "event_type")


def test_notice_for_an_unconfigured_channel_is_refused(paid_notice, settings):
    request, gw = paid_notice
    headers, body = gw.notice(request.order_no)
    settings.WECHAT_PAY_PUBLIC_KEY = ""
    _refused(headers, body, "not configured")


def test_other_merchant_is_reported_not_hidden(paid_notice):
    """A genuinely signed notice for another merchant decodes: matching it is the caller's job."""
    request, gw = paid_notice
    resource = dict(gw.orders[request.order_no], mchid="1900000999")
    resource = {k: v for k, v in resource.items() if not k.startswith("_")}
    headers, body = gw.notice(resource=resource)
    payment = provider().parse_notice(headers, body).payment
    assert payment.merchant_id == "1900000999"
    assert provider().expected_merchant()[0] != payment.merchant_id


def test_acknowledge_and_refuse_answers():
    assert provider().acknowledge().status in {200, 204}
    refusal = provider().refuse("签名错误")
    assert refusal.status >= 400 and refusal.content_type == "application/json"
    assert json.loads(refusal.body) == {"code": "FAIL", "message": "签名错误"}


def test_aead_helper_matches_wechat_decryption(wechat_gw):
    """The fake's encryption is real AES-256-GCM with the APIv3 key (the fake is not circular)."""
    resource = wechat_gw.encrypt({"a": 1})
    plain = AESGCM(wechat_gw.apiv3_key.encode()).decrypt(
        resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]), resource["associated_data"].encode())
    assert json.loads(plain) == {"a": 1}


# --- the parking service (无感支付) ----------------------------------------------------------------
def test_agreement_status(wechat_gw):
    wechat_gw.agreed.add("苏B12345")
    assert provider().agreement_status("苏B12345", agreement_ref="oPAYER") is True
    assert provider().agreement_status("苏B54321", agreement_ref="oPAYER") is False
    _, path, _, _ = wechat_gw.calls[0]
    assert "plate_color=BLUE" in path and "openid=oPAYER" in path
    with pytest.raises(ProviderError) as exc:
        provider().agreement_status("苏B12345")
    assert exc.value.code == "agreement_ref_required"


def test_new_energy_plate_is_green(wechat_gw):
    wechat_gw.agreed.add("苏BD12345")
    assert provider().agreement_status("苏BD12345", agreement_ref="oPAYER") is True
    assert "plate_color=GREEN" in wechat_gw.calls[0][1]


def _times():
    from django.utils import timezone

    end = timezone.now().replace(microsecond=0)
    return end - timedelta(hours=2), end


def test_entry_then_charge_is_accepted_then_confirmed_by_notice(wechat_gw):
    wechat_gw.agreed.add("苏B12345")
    start, end = _times()
    parking_id = provider().agreement_enter(plate="苏B12345", entry_ref="S123", start_at=start, lot_name="梁溪停车场",
                                            notify_url="https://pay.example.cn/payments/notify/wechat/",
                                            free_minutes=15)
    assert wechat_gw.parkings[parking_id]["free_duration"] == 900
    request = pay_request()
    result = provider().agreement_charge(
        agreement_ref="oPAYER", plate="苏B12345", order_no=request.order_no, amount_fen=800, description="停车费",
        notify_url=request.notify_url, start_at=start, end_at=end, entry_ref=parking_id, lot_name="梁溪停车场")
    assert result.state == PaymentResult.PENDING and result.amount_fen == 800
    sent = wechat_gw.orders[request.order_no]["_request"]
    assert sent["parking_info"]["charging_duration"] == 7200 and sent["parking_info"]["parking_id"] == parking_id

    assert provider().query(request.order_no).state == PaymentResult.PENDING  # found under the parking path
    wechat_gw.pay(request.order_no)
    headers, body = wechat_gw.notice(request.order_no)
    payment = provider().parse_notice(headers, body).payment
    assert payment.state == PaymentResult.PAID and payment.order_no == request.order_no
    assert provider().query(request.order_no).state == PaymentResult.PAID


def test_charge_without_entry_announces_it_first(wechat_gw):
    wechat_gw.agreed.add("苏B12345")
    start, end = _times()
    request = pay_request()
    result = provider().agreement_charge(
        agreement_ref="oPAYER", plate="苏B12345", order_no=request.order_no, amount_fen=800, description="停车费",
        notify_url=request.notify_url, start_at=start, end_at=end)
    assert result.state == PaymentResult.PENDING
    assert wechat_gw.paths() == ["POST /v3/vehicle/parking/parkings", "POST /v3/vehicle/transactions/parking"]


def test_charge_for_a_plate_without_service_is_closed(wechat_gw):
    start, end = _times()
    with pytest.raises(ProviderError) as exc:
        provider().agreement_enter(plate="苏B99999", entry_ref="S9", start_at=start, lot_name="x",
                                   notify_url="https://pay.example.cn/n/")
    assert exc.value.code == "entry_blocked"
    wechat_gw.agreed.add("苏B99999")
    parking_id = provider().agreement_enter(plate="苏B99999", entry_ref="S9", start_at=start, lot_name="x",
                                            notify_url="https://pay.example.cn/n/")
    wechat_gw.agreed.discard("苏B99999")  # the driver closed the service while parked
    result = provider().agreement_charge(
        agreement_ref="oPAYER", plate="苏B99999", order_no=pay_request().order_no, amount_fen=800,
        description="停车费", notify_url="https://pay.example.cn/n/", start_at=start, end_at=end, entry_ref=parking_id)
    assert result.state == PaymentResult.CLOSED and result.raw["code"] == "NO_AUTH"


def test_failed_charge_notice_is_closed(wechat_gw):
    wechat_gw.agreed.add("苏B12345")
    start, end = _times()
    request = pay_request()
    provider().agreement_charge(agreement_ref="oPAYER", plate="苏B12345", order_no=request.order_no, amount_fen=800,
                                description="停车费", notify_url=request.notify_url, start_at=start, end_at=end)
    wechat_gw.orders[request.order_no]["trade_state"] = "PAY_FAIL"
    headers, body = wechat_gw.notice(request.order_no)
    assert provider().parse_notice(headers, body).payment.state == PaymentResult.CLOSED


# --- statements -----------------------------------------------------------------------------------
def test_trade_bill_is_parsed(wechat_gw):
    first, second = pay_request(amount_fen=1250), pay_request(amount_fen=300)
    for request in (first, second):
        provider().start(request)
        wechat_gw.pay(request.order_no)
    provider().start(pay_request())  # never paid: not on the bill
    provider().refund(RefundRequest(order_no=first.order_no, refund_no="RFA1", amount_fen=250,
                                    order_amount_fen=1250, reason="x"))
    bill = wechat_gw.trade_bill()
    rows = provider().parse_statement(("\ufeff" + bill).encode())
    payments = {row.order_no: row for row in rows if row.kind == StatementRow.PAYMENT}
    refunds = [row for row in rows if row.kind == StatementRow.REFUND]
    assert {no: row.amount_fen for no, row in payments.items()} == {first.order_no: 1250, second.order_no: 300}
    assert payments[first.order_no].transaction_id == wechat_gw.orders[first.order_no]["transaction_id"]
    assert payments[first.order_no].at.utcoffset() == timedelta(hours=8)
    assert [(r.order_no, r.refund_no, r.amount_fen) for r in refunds] == [(first.order_no, "RFA1", 250)]
    assert refunds[0].transaction_id == wechat_gw.refunds["RFA1"]["refund_id"]
    assert provider().parse_statement(bill) == rows  # text as well as bytes
    assert provider().parse_statement(b"") == []


def test_gateway_fixture_is_a_real_server():
    with WeChatGateway() as gw:
        import requests

        answer = requests.get(gw.url + "/v3/pay/transactions/out-trade-no/X?mchid=1", timeout=5)
        assert answer.status_code == 401 and answer.json()["code"] == "SIGN_ERROR"
