"""The sandbox gateway: the platform's own cashier, so the demo (and a test) pays end to end with
no wallet. ``providers/sandbox.py`` is its provider, talking to it as any provider talks to its
gateway; this module is the gateway's side: its trades (``SandboxTrade``), the cashier page's
"pay" and the signed notice it sends to ``/payments/notify/sandbox/`` over HTTP, verified there
like any wallet's.

A notice is JSON signed with HMAC-SHA256 under a key derived from ``SECRET_KEY``:
``X-Sandbox-Signature`` = hex HMAC over ``X-Sandbox-Timestamp + "\\n" + X-Sandbox-Nonce + "\\n" + body``.
The sandbox exists only where ``settings.PAYMENT_SANDBOX`` is on (off by default in production).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import datetime

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import SandboxTrade

logger = logging.getLogger(__name__)

MERCHANT_ID = "WXP-SANDBOX"
TIMESTAMP_TOLERANCE_S = 300
DELIVERY_TIMEOUT_S = 10.0
HEADER_TIMESTAMP = "X-Sandbox-Timestamp"
HEADER_NONCE = "X-Sandbox-Nonce"
HEADER_SIGNATURE = "X-Sandbox-Signature"

State = SandboxTrade.State


def notice_key() -> bytes:
    return hashlib.sha256(b"wuxi-parking sandbox notices\n" + settings.SECRET_KEY.encode()).digest()


def signature(timestamp: str, nonce: str, body: bytes, *, key: bytes | None = None) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(key or notice_key(), message, hashlib.sha256).hexdigest()


def signed_notice(payload: dict, *, timestamp: int | None = None, key: bytes | None = None) -> tuple[bytes, dict]:
    """The body and headers of a notice, as the gateway sends it."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(12)
    return body, {HEADER_TIMESTAMP: ts, HEADER_NONCE: nonce, HEADER_SIGNATURE: signature(ts, nonce, body, key=key),
                  "Content-Type": "application/json"}


def payment_payload(trade: SandboxTrade) -> dict:
    return {
        "id": f"N{trade.transaction_id}",
        "event": "payment",
        "merchant_id": MERCHANT_ID,
        "order_no": trade.order_no,
        "transaction_id": trade.transaction_id,
        "amount_fen": trade.amount_fen,
        "state": trade.state,
        "paid_at": timezone.localtime(trade.paid_at).isoformat() if trade.paid_at else None,
        "payer": "sandbox",
    }


# -- the gateway's calls -----------------------------------------------------------------------

def trade_open(*, order_no: str, amount_fen: int, description: str, expires_at: datetime, notify_url: str,
               return_url: str = "") -> SandboxTrade:
    """Open a trade (the gateway's prepay); opening an order number again returns its trade."""
    trade, _created = SandboxTrade.objects.get_or_create(order_no=order_no, defaults={
        "amount_fen": amount_fen, "description": description[:128], "expires_at": expires_at,
        "notify_url": notify_url, "return_url": return_url})
    return trade


def trade_get(order_no: str) -> SandboxTrade | None:
    return SandboxTrade.objects.filter(order_no=order_no).first()


def trade_close(order_no: str) -> None:
    SandboxTrade.objects.filter(order_no=order_no, state=State.PENDING).update(state=State.CLOSED)


class TradeRefused(Exception):
    """The sandbox gateway declines a call (a trade that is not pending, a test account that refuses)."""


def trade_pay(order_no: str, *, now: datetime | None = None) -> SandboxTrade:
    """The payer pressed "pay" on the cashier page: the trade is paid once (a second press changes
    nothing) and, after commit, the gateway sends its notice."""
    now = now or timezone.now()
    with transaction.atomic():
        trade = SandboxTrade.objects.select_for_update().filter(order_no=order_no).first()
        if trade is None:
            raise TradeRefused("unknown trade")
        if trade.state == State.PAID:
            return trade
        if trade.state == State.CLOSED or trade.expires_at <= now:
            raise TradeRefused("closed")
        trade.state, trade.paid_at = State.PAID, now
        trade.transaction_id = "SBX" + timezone.localtime(now).strftime("%Y%m%d") + secrets.token_hex(8).upper()
        trade.save(update_fields=["state", "paid_at", "transaction_id"])
        from .tasks import deliver_sandbox_notice  # the task module imports the services, which import this

        # A Celery worker sends it (inline in the embedded default), as a wallet's own servers would.
        transaction.on_commit(lambda: deliver_sandbox_notice.delay(trade.order_no))
    return trade


def trade_refund(*, order_no: str, refund_no: str, amount_fen: int) -> dict:
    """Refund part of a paid trade; the same refund number again returns the same refund."""
    with transaction.atomic():
        trade = SandboxTrade.objects.select_for_update().filter(order_no=order_no).first()
        if trade is None or trade.state != State.PAID:
            raise TradeRefused("not paid")
        for refund in trade.refunds:
            if refund["refund_no"] == refund_no:
                return refund
        if amount_fen <= 0 or trade.refunded_fen + amount_fen > trade.amount_fen:
            raise TradeRefused("refund exceeds what was paid")
        refund = {"refund_no": refund_no, "refund_id": "SBR" + secrets.token_hex(8).upper(), "amount_fen": amount_fen,
                  "at": timezone.localtime().isoformat()}
        trade.refunds = [*trade.refunds, refund]
        trade.refunded_fen += amount_fen
        trade.save(update_fields=["refunds", "refunded_fen"])
    return refund


def deliver(trade: SandboxTrade, *, client: httpx.Client | None = None) -> int | None:
    """POST the trade's payment notice to its notify URL, as a wallet does. A notice that does not
    arrive is not lost: the order's periodic check queries the gateway (``trade_get``)."""
    body, headers = signed_notice(payment_payload(trade))
    try:
        if client is not None:
            response = client.post(trade.notify_url, content=body, headers=headers)
        else:
            response = httpx.post(trade.notify_url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT_S)
    except httpx.HTTPError as exc:
        logger.warning("sandbox notice for %s not delivered: %s", trade.order_no, exc)
        return None
    if response.status_code >= 300:
        logger.warning("sandbox notice for %s refused: %s %s", trade.order_no, response.status_code,
                       response.text[:200])
    return response.status_code


# -- payment agreements (无感支付) and statements --------------------------------------------------
#
# Like a wallet's test accounts, the sandbox answers by the agreement's reference: a reference
# starting with ``DECLINED_PREFIX`` is an account that refuses every charge (no funds),
# ``PENDING_PREFIX`` one whose charges the payer confirms later (the trade stays pending until
# ``trade_pay``), ``REVOKED_PREFIX`` an agreement the payer ended at the wallet. Any other is charged.

DECLINED_PREFIX = "SBX-DECLINE"
PENDING_PREFIX = "SBX-PENDING"
REVOKED_PREFIX = "SBX-REVOKED"
STATEMENT_HEADER = ["order_no", "transaction_id", "kind", "amount_fen", "at", "refund_no"]


def agreement_active(agreement_ref: str) -> bool:
    return bool(agreement_ref) and not agreement_ref.startswith(REVOKED_PREFIX)


def trade_charge_agreement(*, order_no: str, amount_fen: int, agreement_ref: str, description: str,
                           notify_url: str, expires_at: datetime, now: datetime | None = None) -> SandboxTrade:
    """Charge an agreement for an order: paid at once, pending (``PENDING_PREFIX``) or refused."""
    now = now or timezone.now()
    if not agreement_active(agreement_ref) or agreement_ref.startswith(DECLINED_PREFIX):
        raise TradeRefused("agreement charge declined")
    with transaction.atomic():
        trade = trade_open(order_no=order_no, amount_fen=amount_fen, description=description, expires_at=expires_at,
                           notify_url=notify_url)
        trade = SandboxTrade.objects.select_for_update().get(pk=trade.pk)
        if trade.state == State.PENDING and not agreement_ref.startswith(PENDING_PREFIX):
            trade.state, trade.paid_at = State.PAID, now
            trade.transaction_id = "SBA" + timezone.localtime(now).strftime("%Y%m%d") + secrets.token_hex(8).upper()
            trade.save(update_fields=["state", "paid_at", "transaction_id"])
    return trade


def statement_csv(*, start: datetime, end: datetime) -> str:
    """The gateway's statement (对账单) of its trades paid in [start, end) and their refunds, as CSV."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STATEMENT_HEADER)
    for trade in SandboxTrade.objects.filter(state=State.PAID).exclude(paid_at__gte=end).order_by("paid_at"):
        if trade.paid_at >= start:
            writer.writerow([trade.order_no, trade.transaction_id, "payment", trade.amount_fen,
                             timezone.localtime(trade.paid_at).isoformat(), ""])
        for refund in trade.refunds:  # a refund is booked on the day it was made
            at = parse_datetime(refund.get("at") or "") or trade.paid_at
            if start <= at < end:
                writer.writerow([trade.order_no, refund["refund_id"], "refund", refund["amount_fen"],
                                 timezone.localtime(at).isoformat(), refund["refund_no"]])
    return out.getvalue()
