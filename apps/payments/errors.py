"""Stable error codes of the payment API (SPEC §8.1) and the payment services."""

from __future__ import annotations

from apps.common.errors import Conflict, DomainError, Forbidden, NotFound


class PaymentError(DomainError):
    code = "invalid_order"


class InvalidChannel(PaymentError):
    code = "invalid_channel"


class InvalidDebts(PaymentError):
    code = "invalid_debts"


class DebtNotFound(NotFound):
    code = "not_found"


class OrderNotFound(NotFound):
    code = "not_found"


class NothingDue(Conflict):
    code = "nothing_due"


class DebtInOpenOrder(Conflict):
    code = "debt_in_open_order"


class OrderNotOpen(Conflict):
    code = "order_not_open"


class LoginRequired(DomainError):
    code = "not_authenticated"
    status = 401


class PlateNotBound(Forbidden):
    code = "plate_not_bound"


class ProviderUnavailable(DomainError):
    """The channel's gateway could not start the payment; the order was closed again."""

    code = "provider_unavailable"
    status = 502
