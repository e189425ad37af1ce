"""Payments' answers to the privacy ports: which stays must keep their plate because an unpaid
order still collects them (``apps.sessions.retention``), and what payments holds about a plate
for its owner's export (``apps.common.privacy``)."""

from __future__ import annotations

from .models import Order, OrderItem, Payment, PaymentAgreement
from .models_money import ArrearsListing, ArrearsReminder, Blacklist


def sessions_in_open_orders():
    """Stays an unpaid order collects directly (their due)."""
    return OrderItem.objects.filter(open=True, session__isnull=False).values("session_id")


def sessions_of_arrears_in_open_orders():
    """Stays whose arrears record an unpaid order collects."""
    return OrderItem.objects.filter(open=True, arrears__isnull=False).values("arrears__session_id")


def export_payments(plate: str) -> dict:
    orders = list(Order.objects.filter(plate=plate).order_by("created_at", "pk").values(
        "id", "order_no", "state", "channel", "amount_fen", "refunded_fen", "lot__code", "created_at", "paid_at",
        "closed_at"))
    by_id = {order.pop("id"): order for order in orders}
    for order in orders:
        order["items"], order["payments"] = [], []
    for item in OrderItem.objects.filter(order_id__in=by_id).values("order_id", "kind", "session_id", "arrears_id",
                                                                  "lot__code", "amount_fen"):
        by_id[item.pop("order_id")]["items"].append(item)
    for payment in Payment.objects.filter(order_id__in=by_id).values("order_id", "channel", "amount_fen", "paid_at"):
        by_id[payment.pop("order_id")]["payments"].append(payment)
    return {
        "orders": orders,
        "payment_agreements": list(PaymentAgreement.objects.filter(plate=plate).values(
            "channel", "state", "signed_at", "ended_at")),
        "arrears_reminders": list(ArrearsReminder.objects.filter(plate=plate).order_by("sent_at").values(
            "rule__name", "owed_fen", "arrears_count", "oldest_at", "sent_at")),
        "arrears_listings": list(ArrearsListing.objects.filter(plate=plate).order_by("listed_at").values(
            "rule__name", "listed_at", "ended_at")),
        "blacklists": list(Blacklist.objects.filter(plate=plate).order_by("since").values(
            "operator__name", "state", "since")),
    }
