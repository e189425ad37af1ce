"""Reads of orders that several callers share."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from .errors import OrderNotFound
from .models import Order


def order_for_payer(*, order_no: str, user) -> Order:
    """The order, for whoever may see it (SPEC §8.1): the citizen who made it, or anyone holding
    the number of an order made without login. Anyone else is told it does not exist."""
    order = Order.objects.filter(order_no=order_no).prefetch_related("items").first() if (
        order_no.isalnum() and order_no.isascii() and len(order_no) <= 32) else None
    if order is not None and order.user_id is not None and (
            user is None or not user.is_authenticated or user.pk != order.user_id):
        order = None
    if order is None:
        raise OrderNotFound(_("订单不存在"), details={"order_no": order_no[:32]})
    return order


#: how many orders a citizen's list shows, newest first
MY_ORDERS_LIMIT = 100


def orders_of(*, user, plates: list[str]):
    """A citizen's orders and receipts, newest first: those they made, and the paid ones of their
    bound plates (paid at a lot's code without login)."""
    mine = (Q(user=user) | Q(plate__in=list(plates), state__in=Order.PAID_STATES)) if plates else Q(user=user)
    return (Order.objects.filter(mine).select_related("lot").prefetch_related("items")
            .order_by("-created_at", "-pk")[:MY_ORDERS_LIMIT])
