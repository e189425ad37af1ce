"""UnionPay 全渠道 online payment (gateway 5.1.0), written small on ``cryptography``: no SDK fits.

Signing (``signMethod=01``): every field but ``signature``, sorted by name, joined as
``key=value&…``; its SHA-256 as lower-case hex is signed SHA256withRSA with the merchant's signing
key (the private key of the certificate whose id is ``UNIONPAY_SIGN_CERT_ID``) and sent base64 in
``signature``. Answers and back notifications are verified the same way with UnionPay's key
(``UNIONPAY_VERIFY_KEY``: a PEM public key or certificate). The ``signPubKeyCert`` a message
carries is not trusted: only the configured key verifies, so a message signed by any other key —
whatever certificate it ships — is refused.

Paying: the payer's browser posts the signed consume (``txnType=01``) to ``frontTransReq.do``.
``start`` returns that as ``pay_url`` (the address with the fields in its query) and as ``form``
(action and fields) for a page that auto-posts it. ``payTimeout`` is the order's expiry, so
``close`` needs no call: UnionPay refuses payment after it. A query needs the order's number and
its ``txnTime`` (the order's ``placed_at``). Refunds (``txnType=04``) go to ``backTransReq.do``;
UnionPay accepts them and confirms by back notification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import register, wire
from .base import (
    Ack,
    NotConfigured,
    Notice,
    NoticeRefused,
    PaymentProvider,
    PaymentResult,
    PayRequest,
    ProviderError,
    RefundRequest,
    RefundResult,
)

_COMMON = {"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "accessType": "0"}
_PAID = {"00", "A6"}  # A6: paid, with a part of the amount held
_PROCESSING = {"03", "04", "05"}
_TIMEOUT = (5, 15)


def signing_string(fields: Mapping[str, str]) -> bytes:
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "signature")
    return hashlib.sha256(text.encode("utf-8")).hexdigest().encode()


def parse_answer(text: str) -> dict[str, str]:
    """UnionPay's ``key=value&…`` answers are not URL-encoded and a value in braces may hold
    ``&`` and ``=``; split only outside braces."""
    fields: dict[str, str] = {}
    depth, start = 0, 0
    for i, char in enumerate(text + "&"):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == "&" and depth == 0:
            pair = text[start:i]
            start = i + 1
            if "=" in pair:
                key, value = pair.split("=", 1)
                fields[key] = value
    return fields


@register
class UnionPayProvider(PaymentProvider):
    code = "unionpay"
    name = _("银联支付")
    citizen_channel = True
    supports_agreements = False

    def __init__(self) -> None:
        self.mer_id = settings.UNIONPAY_MER_ID
        self.sign_key_pem = settings.UNIONPAY_SIGN_KEY
        self.cert_id = settings.UNIONPAY_SIGN_CERT_ID
        self.verify_key_pem = settings.UNIONPAY_VERIFY_KEY
        self.api_base = settings.UNIONPAY_API_BASE.rstrip("/")

    def is_configured(self) -> bool:
        return bool(self.mer_id and self.sign_key_pem and self.cert_id and self.verify_key_pem and self.api_base)

    def expected_merchant(self) -> tuple[str, str]:
        return self.mer_id, ""

    # --- the wire ------------------------------------------------------------------------------
    def _signed(self, fields: dict[str, str]) -> dict[str, str]:
        if not self.is_configured():
            raise NotConfigured("UnionPay is not configured")
        out = {k: v for k, v in {**_COMMON, "merId": self.mer_id, "certId": self.cert_id, **fields}.items() if v}
        out["signature"] = wire.rsa_sign(wire.private_key(self.sign_key_pem, "UNIONPAY_SIGN_KEY"), signing_string(out))
        return out

    def _genuine(self, fields: Mapping[str, str]) -> bool:
        key = wire.public_key(self.verify_key_pem, "UNIONPAY_VERIFY_KEY")
        return bool(fields.get("signature")) and wire.rsa_verify(key, signing_string(fields), fields["signature"])

    def _post(self, endpoint: str, fields: dict[str, str]) -> dict[str, str]:
        try:
            answer = requests.post(f"{self.api_base}/gateway/api/{endpoint}", data=self._signed(fields),
                                   timeout=_TIMEOUT)
        except requests.RequestException as exc:
            raise ProviderError(f"UnionPay unreachable: {exc}") from exc
        if answer.status_code != 200:
            raise ProviderError(f"UnionPay {answer.status_code}", retry=answer.status_code >= 500)
        data = parse_answer(answer.content.decode("utf-8", "replace").strip())
        if not self._genuine(data):
            raise ProviderError("UnionPay answer signature does not verify", code="bad_response")
        return data

    # --- paying --------------------------------------------------------------------------------
    def start(self, request: PayRequest) -> dict[str, Any]:
        fields = self._signed({
            "txnType": "01", "txnSubType": "01", "bizType": "000201", "channelType": "08",
            "orderId": request.order_no, "txnTime": wire.compact(request.placed_at or timezone.now()),
            "txnAmt": str(request.amount_fen), "currencyCode": "156", "frontUrl": request.return_url,
            "backUrl": request.notify_url, "payTimeout": wire.compact(request.expires_at),
        })
        action = f"{self.api_base}/gateway/api/frontTransReq.do"
        return {"pay_url": f"{action}?{urlencode(fields)}", "form": {"action": action, "method": "POST",
                                                                     "fields": fields}}

    def query(self, order_no: str, *, placed_at: datetime | None = None) -> PaymentResult:
        if placed_at is None:
            raise ProviderError("UnionPay finds an order only with its txnTime (placed_at)", retry=False,
                                code="placed_at_required")
        data = self._post("queryTrans.do", {"txnType": "00", "txnSubType": "00", "bizType": "000000",
                                            "orderId": order_no, "txnTime": wire.compact(placed_at)})
        code = data.get("respCode", "")
        if code == "34":  # 查无此交易: the payer never submitted it
            return PaymentResult(order_no=order_no, state=PaymentResult.PENDING, raw=data)
        if code != "00":
            raise ProviderError(f"UnionPay query {code}: {data.get('respMsg', '')}",
                                retry=code in _PROCESSING, code=code)
        orig = data.get("origRespCode", "")
        state = (PaymentResult.PAID if orig in _PAID
                 else PaymentResult.PENDING if orig in _PROCESSING else PaymentResult.CLOSED)
        return self._payment(data, order_no, state)

    def close(self, order_no: str) -> None:
        """Nothing to call: ``payTimeout`` (the order's expiry) already stops payment."""

    def refund(self, request: RefundRequest) -> RefundResult:
        if not request.transaction_id:
            raise ProviderError("a UnionPay refund needs the payment's queryId", retry=False,
                                code="transaction_id_required")
        data = self._post("backTransReq.do", {
            "txnType": "04", "txnSubType": "00", "bizType": "000201", "channelType": "07",
            "orderId": request.refund_no, "origQryId": request.transaction_id,
            "txnTime": wire.compact(timezone.now()), "txnAmt": str(request.amount_fen), "currencyCode": "156",
            "backUrl": request.notify_url,
        })
        code = data.get("respCode", "")
        state = RefundResult.PROCESSING if code == "00" or code in _PROCESSING else RefundResult.FAILED
        return RefundResult(refund_no=request.refund_no, state=state, refund_id=data.get("queryId", ""),
                            amount_fen=request.amount_fen if state != RefundResult.FAILED else None, raw=data)

    @staticmethod
    def _payment(data: Mapping[str, str], order_no: str, state: str) -> PaymentResult:
        amount = data.get("txnAmt", "")
        return PaymentResult(
            order_no=data.get("orderId") or order_no, state=state,
            amount_fen=int(amount) if amount.isdigit() else None, transaction_id=data.get("queryId", ""),
            merchant_id=data.get("merId", ""), paid_at=_paid_at(data) if state == PaymentResult.PAID else None,
            raw=dict(data))

    # --- callbacks -----------------------------------------------------------------------------
    def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice:
        if not self.is_configured():
            raise NoticeRefused("UnionPay is not configured")
        fields = wire.form_fields(body)
        if not fields.get("signature"):
            raise NoticeRefused("unsigned notice")
        if not self._genuine(fields):
            raise NoticeRefused("bad signature")
        if not fields.get("orderId"):
            raise NoticeRefused("no orderId")
        ok = fields.get("respCode") in _PAID
        if fields.get("txnType") == "04":
            return Notice(kind="refund", notice_id=fields.get("queryId", ""), refund=RefundResult(
                refund_no=fields["orderId"], state=RefundResult.SUCCEEDED if ok else RefundResult.FAILED,
                refund_id=fields.get("queryId", ""),
                amount_fen=int(fields["txnAmt"]) if fields.get("txnAmt", "").isdigit() else None, raw=fields))
        if fields.get("txnType") != "01":
            raise NoticeRefused(f"unsupported txnType {fields.get('txnType')!r}")
        payment = self._payment(fields, fields["orderId"], PaymentResult.PAID if ok else PaymentResult.CLOSED)
        return Notice(kind="payment", payment=payment, notice_id=fields.get("queryId", ""))

    def acknowledge(self) -> Ack:
        return Ack(status=200, body=b"ok")

    def refuse(self, message: str) -> Ack:
        return Ack(status=400, body=b"fail")


def _paid_at(data: Mapping[str, str]) -> datetime | None:
    """``traceTime`` is MMDDhhmmss; its year is the order's (``txnTime``), or the next one when an
    order placed on 31 December is paid on 1 January."""
    trace, placed = data.get("traceTime", ""), data.get("txnTime", "")
    if len(trace) != 10 or len(placed) != 14:
        return None
    try:
        at = wire.parse_time(placed[:4] + trace, "%Y%m%d%H%M%S")
        placed_at = wire.parse_time(placed, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if at and placed_at and at < placed_at and (placed_at - at).days > 180:
        at = at.replace(year=at.year + 1)
    return at
