"""Stable error codes of the ingest API (SPEC §3).

Request-level refusals are ``DomainError`` subclasses that the API's exception handler renders;
``EventRejected`` never leaves the service: it becomes that one event's RESULT ``error``.
"""

from __future__ import annotations

from apps.common.errors import Conflict, DomainError, NotFound


class IngestError(DomainError):
    code = "invalid_batch"


class InvalidJson(IngestError):
    code = "invalid_json"


class InvalidBatch(IngestError):
    code = "invalid_batch"


class BatchTooLarge(IngestError):
    code = "batch_too_large"
    status = 413


class EventRejected(DomainError):
    """One event is refused; the others in its batch go on."""

    code = "invalid_event"

    def result_error(self) -> dict:
        return self.as_dict()


class LotNotAllowed(EventRejected):
    code = "lot_not_allowed"
    status = 403


class ClockSkew(EventRejected):
    code = "clock_skew"


class InvalidNumber(EventRejected):
    """A number no column or JSON document can hold (``1e999``): its event alone is refused."""

    code = "invalid_number"


class InvalidTime(EventRejected):
    code = "invalid_time"


class UnknownBerth(EventRejected):
    code = "unknown_berth"


# -- session money (services.session_apply_payment and friends) ------------------------------------

class InvalidAmount(DomainError):
    code = "invalid_amount"


class SessionNotFound(NotFound):
    code = "session_not_found"


class ArrearsNotFound(NotFound):
    code = "arrears_not_found"


class RefundExceedsPaid(Conflict):
    code = "refund_exceeds_paid"


class PaymentExceedsArrears(Conflict):
    code = "payment_exceeds_arrears"
