"""Alipay (支付宝) open platform, RSA2, through ``python-alipay-sdk``.

Paying is the mobile web cashier (``alipay.trade.wap.pay``): ``pay_url`` is the gateway address
with the signed request, opened in the payer's browser. The gateway's synchronous answers are
verified by the SDK with the Alipay public key; async notices (a form POST) are verified here
with the same key: every field but ``sign`` and ``sign_type``, sorted, ``k=v`` joined by ``&``.
``app_id`` and ``seller_id`` are what a notice must carry to be ours (the caller matches them).
无感支付 is agreement deduction (``GENERAL_WITHHOLDING`` with the payer's ``agreement_no``).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.error import URLError

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
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
    StatementRow,
)

_TRADE_STATES = {"WAIT_BUYER_PAY": PaymentResult.PENDING, "TRADE_SUCCESS": PaymentResult.PAID,
                 "TRADE_FINISHED": PaymentResult.PAID, "TRADE_CLOSED": PaymentResult.CLOSED}
_TIME = "%Y-%m-%d %H:%M:%S"


def _pem(text: str, kind: str) -> str:
    text = (text or "").strip().replace("\\n", "\n")
    if text and not text.startswith("-----BEGIN"):
        text = f"-----BEGIN {kind}-----\n{text}\n-----END {kind}-----"
    return text


@register
class AlipayProvider(PaymentProvider):
    code = "alipay"
    name = _("支付宝")
    citizen_channel = True
    supports_agreements = True

    def __init__(self) -> None:
        self.app_id = settings.ALIPAY_APP_ID
        self.seller_id = settings.ALIPAY_SELLER_ID
        self.private_key_pem = _pem(settings.ALIPAY_PRIVATE_KEY, "PRIVATE KEY")
        self.public_key_pem = _pem(settings.ALIPAY_PUBLIC_KEY, "PUBLIC KEY")
        self.gateway = settings.ALIPAY_API_BASE
        self._sdk: AliPay | None = None

    def is_configured(self) -> bool:
        # seller_id is required: without it a notice paid to another merchant of the same app
        # could not be told from ours.
        return bool(self.app_id and self.seller_id and self.private_key_pem and self.public_key_pem and self.gateway)

    def expected_merchant(self) -> tuple[str, str]:
        return self.seller_id, self.app_id

    def _client(self) -> AliPay:
        if self._sdk is None:
            if not self.is_configured():
                raise NotConfigured("Alipay is not configured")
            wire.private_key(self.private_key_pem, "ALIPAY_PRIVATE_KEY")
            wire.public_key(self.public_key_pem, "ALIPAY_PUBLIC_KEY")
            self._sdk = AliPay(appid=self.app_id, app_private_key_string=self.private_key_pem,
                               alipay_public_key_string=self.public_key_pem, sign_type="RSA2")
            self._sdk._gateway = self.gateway  # ALIPAY_API_BASE: the SDK knows only the real two
        return self._sdk

    def _call(self, method: str, biz_content: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """A verified answer; ``code`` ``10000`` is success, others are Alipay's business refusals
        (left to the caller); unreachable, unsigned or forged answers raise ``ProviderError``."""
        try:
            answer = self._client().server_api(method, biz_content, **kwargs)
        except AliPayValidationError as exc:
            raise ProviderError("Alipay answer signature does not verify", code="bad_response") from exc
        except AliPayException as exc:  # an unsigned error_response: our request was refused
            raise ProviderError(f"Alipay refused the call: {exc}", retry=False, code="refused") from exc
        except (URLError, OSError, TimeoutError) as exc:
            raise ProviderError(f"Alipay unreachable: {exc}") from exc
        except (ValueError, KeyError) as exc:
            raise ProviderError(f"Alipay answer unreadable: {exc}", code="bad_response") from exc
        if not isinstance(answer, dict):
            raise ProviderError("Alipay answer unreadable", code="bad_response")
        if answer.get("code") == "20000":  # service busy: try again later
            raise ProviderError(f"Alipay busy: {answer.get('sub_msg', '')}", code="ALIPAY_BUSY")
        return answer

    # --- paying --------------------------------------------------------------------------------
    def start(self, request: PayRequest) -> dict[str, Any]:
        extra = {"quit_url": request.return_url} if request.return_url else {}
        signed = self._client().api_alipay_trade_wap_pay(
            subject=request.description[:256], out_trade_no=request.order_no,
            total_amount=wire.yuan(request.amount_fen), return_url=request.return_url or None,
            notify_url=request.notify_url, time_expire=wire.local(request.expires_at).strftime(_TIME), **extra,
        )
        return {"pay_url": f"{self.gateway}?{signed}"}

    def query(self, order_no: str, *, placed_at: datetime | None = None) -> PaymentResult:
        answer = self._call("alipay.trade.query", {"out_trade_no": order_no})
        if answer.get("code") != "10000":
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                # Not scanned yet: Alipay creates the trade only when the payer opens the page.
                return PaymentResult(order_no=order_no, state=PaymentResult.PENDING, raw=answer)
            raise ProviderError(f"Alipay query: {answer.get('sub_msg', '')}", retry=False,
                                code=str(answer.get("sub_code", "")))
        return self._payment(self._ours(answer), order_no, paid_at_field="send_pay_date")

    def close(self, order_no: str) -> None:
        answer = self._call("alipay.trade.close", {"out_trade_no": order_no})
        if answer.get("code") == "10000" or answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return
        if answer.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            if self.query(order_no).state == PaymentResult.PAID:
                raise ProviderError("the order is paid at Alipay", retry=False, code="order_paid")
            return  # closed already
        raise ProviderError(f"Alipay close: {answer.get('sub_msg', '')}", retry=False,
                            code=str(answer.get("sub_code", "")))

    def refund(self, request: RefundRequest) -> RefundResult:
        biz: dict[str, Any] = {"refund_amount": wire.yuan(request.amount_fen), "out_request_no": request.refund_no,
                               "refund_reason": request.reason[:256]}
        if request.transaction_id:
            biz["trade_no"] = request.transaction_id
        else:
            biz["out_trade_no"] = request.order_no
        answer = self._call("alipay.trade.refund", biz)
        # Alipay refunds synchronously: 10000 means the money went back.
        state = RefundResult.SUCCEEDED if answer.get("code") == "10000" else RefundResult.FAILED
        return RefundResult(refund_no=request.refund_no, state=state, refund_id=str(answer.get("trade_no", "")),
                            amount_fen=request.amount_fen if state == RefundResult.SUCCEEDED else None, raw=answer)

    def _ours(self, answer: Mapping[str, Any]) -> dict[str, Any]:
        """An answer to our own signed call is about our app's trade, though it names neither
        the app nor the seller (a notice does, and is matched on them)."""
        return {"seller_id": self.seller_id, "app_id": self.app_id, **answer}

    @staticmethod
    def _payment(data: Mapping[str, Any], order_no: str = "", *, paid_at_field: str = "gmt_payment",
                 state: str | None = None) -> PaymentResult:
        try:
            amount = wire.fen(data["total_amount"]) if data.get("total_amount") else None
        except ValueError:
            amount = None
        return PaymentResult(
            order_no=str(data.get("out_trade_no") or order_no),
            state=state or _TRADE_STATES.get(str(data.get("trade_status", "")), PaymentResult.PENDING),
            amount_fen=amount, transaction_id=str(data.get("trade_no") or ""),
            merchant_id=str(data.get("seller_id") or ""), app_id=str(data.get("app_id") or ""),
            paid_at=wire.time_or_none(data.get(paid_at_field), _TIME),
            payer=str(data.get("buyer_id") or data.get("buyer_user_id") or ""), raw=dict(data),
        )

    # --- callbacks -----------------------------------------------------------------------------
    def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice:
        if not self.is_configured():
            raise NoticeRefused("Alipay is not configured")
        fields = wire.form_fields(body)
        signature = fields.pop("sign", "")
        if not signature or fields.get("sign_type") != "RSA2":
            raise NoticeRefused("unsigned notice (sign/sign_type RSA2 missing)")
        try:
            genuine = self._client().verify(dict(fields), signature)  # verify() drops sign_type itself
        except (AliPayException, binascii.Error, ValueError, TypeError):
            genuine = False
        if not genuine:
            raise NoticeRefused("bad sign")
        fields.pop("sign_type", None)
        if not fields.get("out_trade_no"):
            raise NoticeRefused("no out_trade_no")
        if fields.get("out_biz_no") or fields.get("gmt_refund"):
            # A refund's notice (trade_status_sync after a refund): refund_fee is the total refunded.
            try:
                refunded = wire.fen(fields["refund_fee"]) if fields.get("refund_fee") else None
            except ValueError:
                refunded = None
            return Notice(kind="refund", notice_id=fields.get("notify_id", ""), refund=RefundResult(
                refund_no=fields.get("out_biz_no", ""), state=RefundResult.SUCCEEDED,
                refund_id=fields.get("trade_no", ""), amount_fen=refunded, raw=fields))
        return Notice(kind="payment", payment=self._payment(fields), notice_id=fields.get("notify_id", ""))

    def acknowledge(self) -> Ack:
        return Ack(status=200, body=b"success")

    def refuse(self, message: str) -> Ack:
        return Ack(status=400, body=b"fail")

    # --- agreement deduction (无感支付) -------------------------------------------------------------
    def agreement_status(self, plate: str, **context: Any) -> bool:
        """The payer's withholding agreement (``agreement_ref``: its ``agreement_no``) is NORMAL."""
        agreement_no = context.get("agreement_ref", "")
        if not agreement_no:
            raise ProviderError("Alipay needs the agreement_no", retry=False, code="agreement_ref_required")
        answer = self._call("alipay.user.agreement.query", {"agreement_no": agreement_no})
        return answer.get("code") == "10000" and answer.get("status") == "NORMAL"

    def agreement_charge(self, *, agreement_ref: str, plate: str, order_no: str, amount_fen: int,
                         description: str, notify_url: str, start_at: datetime, end_at: datetime,
                         **_: Any) -> PaymentResult:
        answer = self._call("alipay.trade.pay", {
            "out_trade_no": order_no, "total_amount": wire.yuan(amount_fen), "subject": description[:256],
            "product_code": "GENERAL_WITHHOLDING", "agreement_params": {"agreement_no": agreement_ref},
            "body": json.dumps({"plate": plate, "start": wire.iso(start_at), "end": wire.iso(end_at)},
                               ensure_ascii=False),
        }, notify_url=notify_url)
        code = answer.get("code")
        if code == "10000":
            return self._payment(self._ours(answer), order_no, state=PaymentResult.PAID)
        if code == "10003":  # ORDER_SUCCESS_PAY_INPROCESS: the notice will say
            return self._payment(self._ours(answer), order_no, state=PaymentResult.PENDING)
        return PaymentResult(order_no=order_no, state=PaymentResult.CLOSED, raw=answer)

    # --- reconciliation ------------------------------------------------------------------------
    def parse_statement(self, file: Any) -> list[StatementRow]:
        """The 业务明细 CSV of Alipay's bill download: ``#`` lines around a header and one line per
        trade or refund; fields are padded with spaces and tabs; amounts in yuan, refunds negative."""
        rows: list[StatementRow] = []
        header: list[str] | None = None
        for line in wire.statement_text(file).splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            fields = [field.strip() for field in line.split(",")]
            if header is None:
                header = fields
                continue
            record = dict(zip(header, fields, strict=False))
            amount = next((v for k, v in record.items() if k.startswith("订单金额")), "0")
            kind = {"交易": StatementRow.PAYMENT, "退款": StatementRow.REFUND}.get(record.get("业务类型", ""))
            if kind is None:
                continue
            refund_no = next((v for k, v in record.items() if k.startswith("退款批次号")), "")
            rows.append(StatementRow(
                order_no=record.get("商户订单号", ""), transaction_id=record.get("支付宝交易号", ""),
                amount_fen=abs(wire.fen(amount)), kind=kind,
                at=wire.parse_time(record.get("完成时间") or record.get("创建时间", ""), _TIME),
                refund_no=refund_no if kind == StatementRow.REFUND else ""))
        return rows
