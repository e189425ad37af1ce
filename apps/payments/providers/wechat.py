"""WeChat Pay API v3 (微信支付), direct merchant, in public-key mode (微信支付公钥).

Calls go through ``wechatpayv3``: it signs each request with the merchant key
(``Authorization: WECHATPAY2-SHA256-RSA2048 …``) and verifies each 2xx answer's
``Wechatpay-Signature`` with the WeChat Pay public key. Callbacks are verified here rather than by
the library, because SPEC §7 asks more of them than it checks: the serial must be our public key's
id (the library would fall back to downloading platform certificates), the timestamp must be fresh
(a replay is refused) and a body that does not decrypt is a refusal, not an empty result.

Paying: JSAPI inside WeChat when the payer's openid is known, Native (``code_url``) otherwise.
无感支付 is WeChat's parking service (微信支付分停车服务): a plate's service state, the entry
notice, and the charge after exit, which WeChat accepts and confirms by notice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from wechatpayv3 import SignType, WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt

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
    StatementRow,
)

_SETTINGS = ("WECHAT_PAY_MCH_ID", "WECHAT_PAY_APP_ID", "WECHAT_PAY_APIV3_KEY", "WECHAT_PAY_MCH_PRIVATE_KEY",
             "WECHAT_PAY_MCH_SERIAL", "WECHAT_PAY_PUBLIC_KEY", "WECHAT_PAY_PUBLIC_KEY_ID")

# trade_state → ours. ACCEPTED is a parking charge WeChat has taken on and will confirm by notice;
# REFUND means it was paid (and refunded since, which refunds track).
_TRADE_STATES = {
    "SUCCESS": PaymentResult.PAID, "REFUND": PaymentResult.PAID,
    "NOTPAY": PaymentResult.PENDING, "USERPAYING": PaymentResult.PENDING, "ACCEPTED": PaymentResult.PENDING,
    "CLOSED": PaymentResult.CLOSED, "REVOKED": PaymentResult.CLOSED, "PAYERROR": PaymentResult.CLOSED,
    "PAY_FAIL": PaymentResult.CLOSED,
}
_REFUND_STATES = {"SUCCESS": RefundResult.SUCCEEDED, "PROCESSING": RefundResult.PROCESSING,
                  "CLOSED": RefundResult.FAILED, "ABNORMAL": RefundResult.FAILED}
# Our plate colours (SPEC §2) → the parking service's.
_PLATE_COLORS = {"blue": "BLUE", "yellow": "YELLOW", "green": "GREEN", "yellow_green": "LIMEGREEN",
                 "white": "WHITE", "black": "BLACK"}
_TIMEOUT = (5, 15)


def _color(plate: str, color: str = "") -> str:
    """The parking service's colour; without one, a new-energy plate (8 characters) is green."""
    return _PLATE_COLORS.get(color) or ("GREEN" if len(plate) == 8 else "BLUE")


@register
class WeChatPayProvider(PaymentProvider):
    code = "wechat"
    name = _("微信支付")
    citizen_channel = True
    supports_agreements = True

    def __init__(self) -> None:
        self.mch_id = settings.WECHAT_PAY_MCH_ID
        self.app_id = settings.WECHAT_PAY_APP_ID
        self.apiv3_key = settings.WECHAT_PAY_APIV3_KEY
        self.mch_private_key = settings.WECHAT_PAY_MCH_PRIVATE_KEY
        self.mch_serial = settings.WECHAT_PAY_MCH_SERIAL
        self.public_key_pem = settings.WECHAT_PAY_PUBLIC_KEY
        self.public_key_id = settings.WECHAT_PAY_PUBLIC_KEY_ID
        self.api_base = settings.WECHAT_PAY_API_BASE.rstrip("/")
        self._lib: WeChatPay | None = None

    def is_configured(self) -> bool:
        return all(getattr(settings, name, "") for name in _SETTINGS) and bool(self.api_base)

    def expected_merchant(self) -> tuple[str, str]:
        return self.mch_id, self.app_id

    # --- the library ---------------------------------------------------------------------------
    def _client(self) -> WeChatPay:
        if self._lib is None:
            if not self.is_configured():
                raise NotConfigured("WeChat Pay is not configured")
            # Loaded (and refused) by us first, so a malformed key is a clear NotConfigured.
            wire.private_key(self.mch_private_key, "WECHAT_PAY_MCH_PRIVATE_KEY")
            wire.public_key(self.public_key_pem, "WECHAT_PAY_PUBLIC_KEY")
            self._lib = WeChatPay(
                wechatpay_type=WeChatPayType.NATIVE, mchid=self.mch_id,
                private_key=self.mch_private_key.replace("\\n", "\n"), cert_serial_no=self.mch_serial,
                appid=self.app_id, apiv3_key=self.apiv3_key, timeout=_TIMEOUT,
                public_key=self.public_key_pem.replace("\\n", "\n"), public_key_id=self.public_key_id,
            )
            # wechatpayv3 hard-codes the production gateway; WECHAT_PAY_API_BASE (SPEC §7) must
            # reach the calls too, so staging and tests can talk to a fake gateway.
            self._lib._core._gate_way = self.api_base
        return self._lib

    def _call(self, method: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """One gateway call: ``(status, JSON body)`` for a 2xx whose signature verified; a
        ``ProviderError`` for everything else (its ``code`` is WeChat's error code)."""
        lib = self._client()
        try:
            status, text = getattr(lib, method)(**kwargs)
        except requests.RequestException as exc:
            raise ProviderError(f"WeChat Pay unreachable: {exc}") from exc
        except Exception as exc:  # the library raises bare Exception, for a bad answer or a bad call
            if "verify" in str(exc) or isinstance(exc, ValueError):
                raise ProviderError(f"WeChat Pay answer refused: {exc}", code="bad_response") from exc
            raise ProviderError(f"WeChat Pay call not made: {exc}", retry=False, code="bad_request") from exc
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if 200 <= status < 300:
            return status, data
        raise ProviderError(
            f"WeChat Pay {status}: {data.get('message') or text[:200]}",
            retry=status >= 500 or status == 429, code=str(data.get("code") or status),
        )

    # --- paying --------------------------------------------------------------------------------
    def start(self, request: PayRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "description": request.description[:127], "out_trade_no": request.order_no,
            "amount": {"total": request.amount_fen, "currency": "CNY"},
            "time_expire": wire.iso(request.expires_at), "notify_url": request.notify_url,
        }
        if request.client_ip:
            kwargs["scene_info"] = {"payer_client_ip": request.client_ip}
        if request.openid:
            _, data = self._call("pay", pay_type=WeChatPayType.JSAPI, payer={"openid": request.openid}, **kwargs)
            if not data.get("prepay_id"):
                raise ProviderError("WeChat Pay gave no prepay_id", code="bad_response")
            return {"trade_type": "JSAPI", "jsapi": self.jsapi_params(data["prepay_id"])}
        _, data = self._call("pay", pay_type=WeChatPayType.NATIVE, **kwargs)
        if not data.get("code_url"):
            raise ProviderError("WeChat Pay gave no code_url", code="bad_response")
        return {"trade_type": "NATIVE", "code_url": data["code_url"]}

    def jsapi_params(self, prepay_id: str) -> dict[str, str]:
        """What WeixinJSBridge's ``getBrandWCPayRequest`` takes: ``paySign`` is the merchant key's
        SHA256withRSA over appId, timeStamp, nonceStr and package, one per line."""
        params = {"appId": self.app_id, "timeStamp": str(int(time.time())), "nonceStr": uuid.uuid4().hex,
                  "package": f"prepay_id={prepay_id}", "signType": "RSA"}
        params["paySign"] = self._client().sign(
            [params["appId"], params["timeStamp"], params["nonceStr"], params["package"]], SignType.RSA_SHA256)
        return params

    def query(self, order_no: str, *, placed_at: datetime | None = None) -> PaymentResult:
        try:
            _, data = self._call("query", out_trade_no=order_no)
        except ProviderError as exc:
            if exc.code != "ORDER_NOT_EXIST":
                raise
            # A parking-service charge lives under its own path; an order neither knows was
            # never paid and never will be.
            try:
                _, data = self._call("parking_order_query", out_trade_no=order_no)
            except ProviderError as again:
                if again.code not in {"ORDER_NOT_EXIST", "404", "RESOURCE_NOT_EXISTS", "NOT_FOUND"}:
                    raise
                return PaymentResult(order_no=order_no, state=PaymentResult.CLOSED)
        return self._payment(data, order_no)

    def close(self, order_no: str) -> None:
        try:
            self._call("close", out_trade_no=order_no)
        except ProviderError as exc:
            if exc.code in {"ORDER_CLOSED", "ORDER_NOT_EXIST"}:
                return
            if exc.code == "ORDERPAID":
                raise ProviderError("the order is paid at WeChat Pay", retry=False, code="order_paid") from exc
            raise

    def refund(self, request: RefundRequest) -> RefundResult:
        kwargs: dict[str, Any] = {
            "out_refund_no": request.refund_no,
            "amount": {"refund": request.amount_fen, "total": request.order_amount_fen, "currency": "CNY"},
            "reason": request.reason[:80] or None, "notify_url": request.notify_url or None,
        }
        if request.transaction_id:
            kwargs["transaction_id"] = request.transaction_id
        else:
            kwargs["out_trade_no"] = request.order_no
        _, data = self._call("refund", **kwargs)
        return self._refund(data, request.refund_no)

    # --- results -------------------------------------------------------------------------------
    @staticmethod
    def _payment(data: Mapping[str, Any], order_no: str = "") -> PaymentResult:
        amount = data.get("amount") or {}
        total = amount.get("total") if isinstance(amount, dict) else None
        return PaymentResult(
            order_no=str(data.get("out_trade_no") or order_no),
            state=_TRADE_STATES.get(str(data.get("trade_state", "")), PaymentResult.PENDING),
            amount_fen=wire.whole_fen(total),
            transaction_id=str(data.get("transaction_id") or ""),
            merchant_id=str(data.get("mchid") or data.get("sp_mchid") or ""),
            app_id=str(data.get("appid") or data.get("sp_appid") or ""),
            paid_at=wire.parse_time(data.get("success_time") or ""),
            payer=str((data.get("payer") or {}).get("openid", "")) if isinstance(data.get("payer"), dict) else "",
            raw=dict(data),
        )

    @staticmethod
    def _refund(data: Mapping[str, Any], refund_no: str = "") -> RefundResult:
        amount = data.get("amount") or {}
        refund = amount.get("refund") if isinstance(amount, dict) else None
        return RefundResult(
            refund_no=str(data.get("out_refund_no") or refund_no),
            state=_REFUND_STATES.get(str(data.get("status") or data.get("refund_status") or ""),
                                     RefundResult.PROCESSING),
            refund_id=str(data.get("refund_id") or ""),
            amount_fen=wire.whole_fen(refund),
            raw=dict(data),
        )

    # --- callbacks -----------------------------------------------------------------------------
    def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice:
        if not self.is_configured():
            raise NoticeRefused("WeChat Pay is not configured")
        h = wire.headers_of(headers)
        names = ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial")
        missing = [name for name in names if not h.get(name)]
        if missing:
            raise NoticeRefused(f"missing header {', '.join(missing)}")
        timestamp, nonce, signature, serial = (h[name] for name in names)
        if h.get("wechatpay-signature-type", "WECHATPAY2-SHA256-RSA2048") != "WECHATPAY2-SHA256-RSA2048":
            raise NoticeRefused("unsupported signature type")
        if serial != self.public_key_id:
            raise NoticeRefused("Wechatpay-Serial is not our WeChat Pay public key")
        if not wire.is_fresh(timestamp, settings.PAYMENT_NOTICE_MAX_AGE_S):
            raise NoticeRefused("stale or bad Wechatpay-Timestamp")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NoticeRefused("body is not UTF-8") from None
        key = wire.public_key(self.public_key_pem, "WECHAT_PAY_PUBLIC_KEY")
        if not wire.rsa_verify(key, f"{timestamp}\n{nonce}\n{text}\n".encode(), signature):
            raise NoticeRefused("bad Wechatpay-Signature")
        try:
            envelope = json.loads(text)
        except ValueError:
            raise NoticeRefused("body is not JSON") from None
        resource = envelope.get("resource") if isinstance(envelope, dict) else None
        if not isinstance(resource, dict) or resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise NoticeRefused("no AEAD_AES_256_GCM resource")
        try:
            plain = aes_decrypt(nonce=str(resource.get("nonce", "")), ciphertext=str(resource.get("ciphertext", "")),
                                associated_data=str(resource.get("associated_data") or ""),
                                apiv3_key=self.apiv3_key)
            data = json.loads(plain) if plain else None
        except (ValueError, TypeError):
            data = None
        if not isinstance(data, dict):
            raise NoticeRefused("resource does not decrypt with the APIv3 key")
        event = str(envelope.get("event_type", ""))
        notice_id = str(envelope.get("id", ""))
        if event.startswith("REFUND."):
            return Notice(kind="refund", refund=self._refund(data), notice_id=notice_id)
        if event.startswith("TRANSACTION.") and data.get("out_trade_no"):
            return Notice(kind="payment", payment=self._payment(data), notice_id=notice_id)
        raise NoticeRefused(f"unsupported event_type {event!r}")

    def acknowledge(self) -> Ack:
        return Ack(status=204)

    def refuse(self, message: str) -> Ack:
        return wire.json_refusal(message)

    # --- the parking service (无感支付) ------------------------------------------------------------
    def agreement_status(self, plate: str, **context: Any) -> bool:
        """The plate's parking service is ``NORMAL`` for the payer (``agreement_ref`` is their
        openid: WeChat looks a plate up only with the user's id)."""
        openid = context.get("agreement_ref") or context.get("openid") or ""
        if not openid:
            raise ProviderError("WeChat's parking service needs the payer's openid", retry=False,
                                code="agreement_ref_required")
        try:
            # The plate is quoted here: the library signs the path as given, and the request
            # must go out exactly as signed.
            _, data = self._call("parking_service_find", plate_number=quote(plate),
                                 plate_color=_color(plate, context.get("plate_color", "")),
                                 openid=quote(openid))
        except ProviderError as exc:
            if exc.retry:
                raise
            return False
        return data.get("service_state") == "NORMAL"

    def agreement_enter(self, *, plate: str, entry_ref: str, start_at: datetime, lot_name: str,
                        notify_url: str, plate_color: str = "", free_minutes: int = 0) -> str:
        color = _color(plate, plate_color)
        # The library refuses a free duration of 0; one second charges nothing more.
        _, data = self._call("parking_enter", out_parking_no=entry_ref, plate_number=plate, plate_color=color,
                             start_time=wire.iso(start_at), parking_name=lot_name[:32],
                             free_duration=max(free_minutes * 60, 1), notify_url=notify_url)
        if data.get("state") == "BLOCKED":
            raise ProviderError(f"WeChat blocked the entry: {data.get('block_reason', '')}", retry=False,
                                code="entry_blocked")
        if not data.get("id"):
            raise ProviderError("WeChat gave no parking id", code="bad_response")
        return str(data["id"])

    def agreement_charge(self, *, agreement_ref: str, plate: str, order_no: str, amount_fen: int,
                         description: str, notify_url: str, start_at: datetime, end_at: datetime,
                         entry_ref: str = "", plate_color: str = "", lot_name: str = "",
                         device_id: str = "", **_: Any) -> PaymentResult:
        """Charge a finished stay through the parking service; WeChat answers ``ACCEPTED`` and
        confirms by notice. Without an entry id the entry notice is sent first (an entry that
        was never announced)."""
        color = _color(plate, plate_color)
        lot_name = lot_name or description
        if not entry_ref:
            entry_ref = self.agreement_enter(plate=plate, entry_ref=order_no, start_at=start_at,
                                             lot_name=lot_name, notify_url=notify_url, plate_color=color)
        try:
            _, data = self._call(
                "parking_order", description=description[:127], out_trade_no=order_no, total=amount_fen,
                parking_id=entry_ref, plate_number=plate, plate_color=color, start_time=wire.iso(start_at),
                end_time=wire.iso(end_at), parking_name=lot_name[:32],
                charging_duration=max(int((end_at - start_at).total_seconds()), 1),
                device_id=device_id or "platform", notify_url=notify_url,
            )
        except ProviderError as exc:
            if exc.retry:
                raise
            # WeChat refused this charge (no service, over the limit): no money, the stay is owed.
            return PaymentResult(order_no=order_no, state=PaymentResult.CLOSED, raw={"code": exc.code})
        return self._payment(data, order_no)

    # --- reconciliation ------------------------------------------------------------------------
    def parse_statement(self, file: Any) -> list[StatementRow]:
        """WeChat's trade bill (交易账单, ``bill_type=ALL``): a header line, one line per trade
        whose fields each start with a backtick, then a summary header and its line."""
        lines = [line for line in wire.statement_text(file).splitlines() if line.strip()]
        if not lines:
            return []
        header = [name.strip() for name in lines[0].split(",")]
        rows = []
        for line in lines[1:]:
            if not line.startswith("`"):
                break  # the summary (总交易单数,…) follows the trades
            fields = dict(zip(header, (v.strip() for v in line[1:].split(",`")), strict=False))
            state = fields.get("交易状态", "")
            at = wire.parse_time(fields.get("交易时间", ""), "%Y-%m-%d %H:%M:%S")
            if state == "SUCCESS":
                rows.append(StatementRow(
                    order_no=fields.get("商户订单号", ""), transaction_id=fields.get("微信订单号", ""),
                    amount_fen=wire.fen(fields.get("订单金额") or fields.get("应结订单金额") or "0"),
                    kind=StatementRow.PAYMENT, at=at))
            elif state == "REFUND":
                rows.append(StatementRow(
                    order_no=fields.get("商户订单号", ""), transaction_id=fields.get("微信退款单号", ""),
                    amount_fen=abs(wire.fen(fields.get("申请退款金额") or fields.get("退款金额") or "0")),
                    kind=StatementRow.REFUND, at=at, refund_no=fields.get("商户退款单号", "")))
        return rows
