"""ETC: the card issuer charges the plate's ETC account after exit; the driver does nothing.

Not a channel a payer picks (``citizen_channel = False``): a stay of a plate with an ETC account is
released ``pay_later`` and charged through ``agreement_charge``. There is no national wire format
for this, so the platform publishes its own, below, for the issuer (江苏通行宝 or another) to meet.

Wire format (JSON, UTF-8; money in fen; times RFC 3339 with offset)
-------------------------------------------------------------------
Every request, answer and notice is signed with HMAC-SHA256 under the shared ``ETC_KEY``, in
headers:

- ``X-ETC-Merchant``: ``ETC_MERCHANT_ID``;
- ``X-ETC-Timestamp``: Unix seconds; more than 5 minutes off is refused (replays);
- ``X-ETC-Nonce``: a random string;
- ``X-ETC-Signature``: lower-case hex HMAC-SHA256 of
  ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY`` for a request (``PATH`` with its query string),
  ``TIMESTAMP\\nNONCE\\nBODY`` for an answer or a notice.

Calls, all under ``ETC_API_BASE``:

- ``POST /v1/charges`` ``{merchant_id, out_trade_no, plate, plate_color, account, amount_fen,
  description, entry_at, exit_at, notify_url}`` → CHARGE;
- ``GET /v1/charges/{out_trade_no}`` → CHARGE; ``POST /v1/charges/{out_trade_no}/cancel`` → CHARGE
  (409 ``ALREADY_PAID`` once taken);
- ``POST /v1/refunds`` ``{merchant_id, out_trade_no, out_refund_no, amount_fen, reason, notify_url}``
  → ``{out_refund_no, refund_id, state: SUCCESS|PROCESSING|FAILED, amount_fen}``;
- ``GET /v1/accounts/{plate}`` → ``{plate, state: NORMAL|SUSPENDED|NONE}``.

CHARGE is ``{merchant_id, out_trade_no, plate, amount_fen, state: ACCEPTED|SUCCESS|FAILED|CANCELLED,
transaction_id, paid_at, fail_reason}``. Errors are 4xx/5xx with ``{code, message}``.

Notices are POSTed to ``notify_url``: ``{id, event: charge.succeeded|charge.failed|refund.succeeded|
refund.failed, data: CHARGE or REFUND}``. We answer 200 ``{"code": "SUCCESS"}``; anything else
(400 ``{"code": "FAIL", "message"}``) means resend.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
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

_STATES = {"ACCEPTED": PaymentResult.PENDING, "SUCCESS": PaymentResult.PAID, "FAILED": PaymentResult.CLOSED,
           "CANCELLED": PaymentResult.CLOSED}
_REFUND_STATES = {"SUCCESS": RefundResult.SUCCEEDED, "PROCESSING": RefundResult.PROCESSING,
                  "FAILED": RefundResult.FAILED}
_TIMEOUT = (5, 15)


def mac(key: str, text: str) -> str:
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


@register
class EtcProvider(PaymentProvider):
    code = "etc"
    name = _("ETC")
    citizen_channel = False
    supports_agreements = True

    def __init__(self) -> None:
        self.merchant_id = settings.ETC_MERCHANT_ID
        self.key = settings.ETC_KEY
        self.api_base = settings.ETC_API_BASE.rstrip("/")

    def is_configured(self) -> bool:
        return bool(self.merchant_id and self.key and self.api_base)

    def expected_merchant(self) -> tuple[str, str]:
        return self.merchant_id, ""

    # --- the wire ------------------------------------------------------------------------------
    def _verified(self, headers: Mapping[str, str], body: str) -> bool:
        h = wire.headers_of(headers)
        ts, nonce, signature = h.get("x-etc-timestamp", ""), h.get("x-etc-nonce", ""), h.get("x-etc-signature", "")
        return (h.get("x-etc-merchant") == self.merchant_id and bool(nonce)
                and wire.is_fresh(ts, settings.PAYMENT_NOTICE_MAX_AGE_S)
                and hmac.compare_digest(mac(self.key, f"{ts}\n{nonce}\n{body}"), signature))

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        if not self.is_configured():
            raise NotConfigured("ETC is not configured")
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")) if data is not None else ""
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        url = self.api_base + path
        signed_path = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
        headers = {"Content-Type": "application/json", "X-ETC-Merchant": self.merchant_id, "X-ETC-Timestamp": ts,
                   "X-ETC-Nonce": nonce,
                   "X-ETC-Signature": mac(self.key, f"{method}\n{signed_path}\n{ts}\n{nonce}\n{body}")}
        try:
            answer = requests.request(method, url, data=body.encode() or None, headers=headers, timeout=_TIMEOUT)
        except requests.RequestException as exc:
            raise ProviderError(f"ETC unreachable: {exc}") from exc
        text = answer.content.decode("utf-8", "replace")
        if not self._verified(answer.headers, text):
            raise ProviderError(f"ETC answer {answer.status_code} is not signed by the issuer", code="bad_response")
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            raise ProviderError("ETC answer is not JSON", code="bad_response") from None
        if not isinstance(payload, dict):
            raise ProviderError("ETC answer is not an object", code="bad_response")
        if answer.status_code >= 300:
            raise ProviderError(f"ETC {answer.status_code}: {payload.get('message', '')}",
                                retry=answer.status_code >= 500 or answer.status_code == 429,
                                code=str(payload.get("code") or answer.status_code))
        return answer.status_code, payload

    # --- paying --------------------------------------------------------------------------------
    def start(self, request: PayRequest) -> dict[str, Any]:
        raise ProviderError("ETC is charged by the issuer at exit, not paid by the driver", retry=False,
                            code="not_a_citizen_channel")

    def query(self, order_no: str, *, placed_at: datetime | None = None) -> PaymentResult:
        try:
            _, data = self._call("GET", f"/v1/charges/{quote(order_no, safe='')}")
        except ProviderError as exc:
            if exc.code == "NOT_FOUND":
                return PaymentResult(order_no=order_no, state=PaymentResult.CLOSED)
            raise
        return self._payment(data, order_no)

    def close(self, order_no: str) -> None:
        try:
            self._call("POST", f"/v1/charges/{quote(order_no, safe='')}/cancel")
        except ProviderError as exc:
            if exc.code == "NOT_FOUND":
                return
            if exc.code == "ALREADY_PAID":
                raise ProviderError("the charge is taken at ETC", retry=False, code="order_paid") from exc
            raise

    def refund(self, request: RefundRequest) -> RefundResult:
        _, data = self._call("POST", "/v1/refunds", {
            "merchant_id": self.merchant_id, "out_trade_no": request.order_no, "out_refund_no": request.refund_no,
            "amount_fen": request.amount_fen, "reason": request.reason, "notify_url": request.notify_url})
        return self._refund(data, request.refund_no)

    def _payment(self, data: Mapping[str, Any], order_no: str = "") -> PaymentResult:
        return PaymentResult(
            order_no=str(data.get("out_trade_no") or order_no),
            state=_STATES.get(str(data.get("state", "")), PaymentResult.PENDING),
            amount_fen=wire.whole_fen(data.get("amount_fen")),
            transaction_id=str(data.get("transaction_id") or ""), merchant_id=str(data.get("merchant_id") or ""),
            paid_at=wire.time_or_none(data.get("paid_at")), payer=str(data.get("plate") or ""), raw=dict(data))

    @staticmethod
    def _refund(data: Mapping[str, Any], refund_no: str = "") -> RefundResult:
        return RefundResult(
            refund_no=str(data.get("out_refund_no") or refund_no),
            state=_REFUND_STATES.get(str(data.get("state", "")), RefundResult.PROCESSING),
            refund_id=str(data.get("refund_id") or ""),
            amount_fen=wire.whole_fen(data.get("amount_fen")), raw=dict(data))

    # --- callbacks -----------------------------------------------------------------------------
    def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice:
        if not self.is_configured():
            raise NoticeRefused("ETC is not configured")
        h = wire.headers_of(headers)
        missing = [n for n in ("x-etc-merchant", "x-etc-timestamp", "x-etc-nonce", "x-etc-signature") if not h.get(n)]
        if missing:
            raise NoticeRefused(f"missing header {', '.join(missing)}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NoticeRefused("body is not UTF-8") from None
        if not wire.is_fresh(h["x-etc-timestamp"], settings.PAYMENT_NOTICE_MAX_AGE_S):
            raise NoticeRefused("stale or bad X-ETC-Timestamp")
        if not self._verified(headers, text):
            raise NoticeRefused("bad X-ETC-Signature or merchant")
        try:
            envelope = json.loads(text)
        except ValueError:
            raise NoticeRefused("body is not JSON") from None
        data = envelope.get("data") if isinstance(envelope, dict) else None
        event = str(envelope.get("event", "")) if isinstance(envelope, dict) else ""
        if not isinstance(data, dict):
            raise NoticeRefused("no data")
        if event.startswith("refund."):
            return Notice(kind="refund", refund=self._refund(data), notice_id=str(envelope.get("id", "")))
        if event.startswith("charge.") and data.get("out_trade_no"):
            return Notice(kind="payment", payment=self._payment(data), notice_id=str(envelope.get("id", "")))
        raise NoticeRefused(f"unsupported event {event!r}")

    def acknowledge(self) -> Ack:
        return Ack(status=200, body=b'{"code":"SUCCESS"}', content_type="application/json")

    def refuse(self, message: str) -> Ack:
        return wire.json_refusal(message)

    # --- charging at exit --------------------------------------------------------------------------
    def agreement_status(self, plate: str, **context: Any) -> bool:
        _, data = self._call("GET", f"/v1/accounts/{quote(plate, safe='')}")
        return data.get("state") == "NORMAL"

    def agreement_charge(self, *, agreement_ref: str, plate: str, order_no: str, amount_fen: int,
                         description: str, notify_url: str, start_at: datetime, end_at: datetime,
                         plate_color: str = "", **_: Any) -> PaymentResult:
        try:
            _, data = self._call("POST", "/v1/charges", {
                "merchant_id": self.merchant_id, "out_trade_no": order_no, "plate": plate,
                "plate_color": plate_color, "account": agreement_ref, "amount_fen": amount_fen,
                "description": description, "entry_at": wire.iso(start_at), "exit_at": wire.iso(end_at),
                "notify_url": notify_url})
        except ProviderError as exc:
            if exc.retry or exc.code in {"not_configured", "bad_response"}:
                raise
            # The issuer refused (no account, suspended): no money, the stay is owed.
            return PaymentResult(order_no=order_no, state=PaymentResult.CLOSED, raw={"code": exc.code})
        return self._payment(data, order_no)
