"""The sandbox channel: the platform's own cashier page (``apps.payments.sandbox`` is its gateway).

It behaves as a wallet does: ``start`` opens a trade and answers a ``pay_url`` (the cashier page),
paying there sends a signed notice to our callback, and query, close and refund work against the
gateway's trades. Offered only where ``settings.PAYMENT_SANDBOX`` is on.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.timezone import now as time_now

from .. import sandbox
from . import register
from .base import (
    Ack,
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

#: how long an agreement charge the payer must confirm (``sandbox.PENDING_PREFIX``) may stay pending
CHARGE_TTL = timedelta(minutes=15)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value or ""


def _result(trade) -> PaymentResult:
    state = {sandbox.State.PAID: PaymentResult.PAID, sandbox.State.PENDING: PaymentResult.PENDING}.get(
        trade.state, PaymentResult.CLOSED)
    return PaymentResult(order_no=trade.order_no, state=state, amount_fen=trade.amount_fen,
                         transaction_id=trade.transaction_id, merchant_id=sandbox.MERCHANT_ID, paid_at=trade.paid_at,
                         payer="sandbox", raw=sandbox.payment_payload(trade))


def _refund_result(data: dict) -> RefundResult:
    """A refund notice's body: ``{"event": "refund", "refund_no", "refund_id", "amount_fen", "state"}``."""
    amount = data["amount_fen"]
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise NoticeRefused("amount_fen is not an integer")
    state = {"succeeded": RefundResult.SUCCEEDED, "processing": RefundResult.PROCESSING}.get(data["state"],
                                                                                          RefundResult.FAILED)
    return RefundResult(refund_no=str(data["refund_no"]), state=state, refund_id=str(data.get("refund_id", "")),
                        amount_fen=amount, raw=data)


@register
class SandboxProvider(PaymentProvider):
    code = "sandbox"
    name = "模拟收银台"
    supports_agreements = True

    def is_configured(self) -> bool:
        return bool(getattr(settings, "PAYMENT_SANDBOX", False))

    def start(self, request: PayRequest) -> dict[str, Any]:
        sandbox.trade_open(order_no=request.order_no, amount_fen=request.amount_fen, description=request.description,
                           expires_at=request.expires_at, notify_url=request.notify_url,
                           return_url=request.return_url)
        base = urlsplit(request.notify_url)
        path = reverse("payments:sandbox-cashier", args=[request.order_no])
        return {"pay_url": f"{base.scheme}://{base.netloc}{path}" if base.netloc else path}

    def query(self, order_no: str, *, placed_at: datetime | None = None) -> PaymentResult:
        trade = sandbox.trade_get(order_no)
        # A trade the gateway never opened was never paid (WeChat's ORDER_NOT_EXIST).
        return _result(trade) if trade is not None else PaymentResult(order_no=order_no, state=PaymentResult.CLOSED)

    def close(self, order_no: str) -> None:
        sandbox.trade_close(order_no)

    def refund(self, request: RefundRequest) -> RefundResult:
        try:
            refund = sandbox.trade_refund(order_no=request.order_no, refund_no=request.refund_no,
                                          amount_fen=request.amount_fen)
        except sandbox.TradeRefused as exc:
            raise ProviderError(str(exc), retry=False, code="refund_refused") from exc
        return RefundResult(refund_no=request.refund_no, state=RefundResult.SUCCEEDED, refund_id=refund["refund_id"],
                            amount_fen=refund["amount_fen"], raw=refund)

    def parse_notice(self, headers: Mapping[str, str], body: bytes) -> Notice:
        timestamp = _header(headers, sandbox.HEADER_TIMESTAMP)
        nonce = _header(headers, sandbox.HEADER_NONCE)
        given = _header(headers, sandbox.HEADER_SIGNATURE)
        if not (timestamp and nonce and given):
            raise NoticeRefused("missing signature headers")
        if not hmac.compare_digest(given.encode(), sandbox.signature(timestamp, nonce, body).encode()):
            raise NoticeRefused("bad signature")
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError as exc:
            raise NoticeRefused("bad timestamp") from exc
        if age > sandbox.TIMESTAMP_TOLERANCE_S:
            raise NoticeRefused("stale notice")
        try:
            data = json.loads(body)
            if data["event"] == "refund":
                return Notice(kind="refund", refund=_refund_result(data), notice_id=str(data.get("id", "")))
            if data["event"] != "payment":
                raise NoticeRefused(f"unknown event {data['event']!r}")
            amount = data["amount_fen"]
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise NoticeRefused("amount_fen is not an integer")
            paid_at = parse_datetime(data["paid_at"]) if data.get("paid_at") else None
            state = {"paid": PaymentResult.PAID, "pending": PaymentResult.PENDING}.get(data["state"],
                                                                                     PaymentResult.CLOSED)
            result = PaymentResult(order_no=str(data["order_no"]), state=state, amount_fen=amount,
                                   transaction_id=str(data["transaction_id"]), merchant_id=str(data["merchant_id"]),
                                   paid_at=paid_at if isinstance(paid_at, datetime) and paid_at.tzinfo else None,
                                   payer=str(data.get("payer", "")), raw=data)
        except (ValueError, KeyError, TypeError) as exc:
            raise NoticeRefused("malformed notice") from exc
        return Notice(kind="payment", payment=result, notice_id=str(data.get("id", "")))

    def expected_merchant(self) -> tuple[str, str]:
        return sandbox.MERCHANT_ID, ""

    def acknowledge(self) -> Ack:
        return Ack(200, b'{"code":"SUCCESS"}', "application/json")

    def refuse(self, message: str) -> Ack:
        body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False).encode()
        return Ack(400, body, "application/json")

    # --- payment agreements and statements -------------------------------------------------------
    def agreement_status(self, plate: str, **context: Any) -> bool:
        return sandbox.agreement_active(str(context.get("agreement_ref", "")))

    def agreement_charge(self, *, agreement_ref: str, plate: str, order_no: str, amount_fen: int,
                         description: str, notify_url: str, start_at: datetime, end_at: datetime,
                         **_unused: Any) -> PaymentResult:
        try:
            trade = sandbox.trade_charge_agreement(order_no=order_no, amount_fen=amount_fen,
                                                   agreement_ref=agreement_ref, description=description,
                                                   notify_url=notify_url, expires_at=time_now() + CHARGE_TTL)
        except sandbox.TradeRefused:
            return PaymentResult(order_no=order_no, state=PaymentResult.CLOSED)
        return _result(trade)

    def parse_statement(self, file: Any) -> list[StatementRow]:
        """The sandbox's CSV statement (``sandbox.statement_csv``): bytes, text or a file object."""
        import csv
        import io

        data = file.read() if hasattr(file, "read") else file
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else str(data).lstrip("\ufeff")
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames != sandbox.STATEMENT_HEADER:
            raise ValueError(f"not a sandbox statement: header {reader.fieldnames}")
        rows = []
        for number, line in enumerate(reader, start=2):
            try:
                amount = int(line["amount_fen"])
                kind = {"payment": StatementRow.PAYMENT, "refund": StatementRow.REFUND}[line["kind"]]
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"line {number}: {exc}") from exc
            at = parse_datetime(line["at"]) if line["at"] else None
            rows.append(StatementRow(order_no=line["order_no"], transaction_id=line["transaction_id"],
                                     amount_fen=amount, kind=kind, at=at, refund_no=line["refund_no"]))
        return rows

