"""The hotline's refusals, each with a stable code (SPEC §1)."""

from __future__ import annotations

from apps.common.errors import DomainError


class ComplaintError(DomainError):
    code = "complaint_error"
    status = 400


class UnknownCategory(ComplaintError):
    code = "unknown_category"


class UnknownLot(ComplaintError):
    code = "unknown_lot"


class InvalidPhone(ComplaintError):
    code = "invalid_phone"


class EmptyDescription(ComplaintError):
    code = "empty_description"


class InvalidLocation(ComplaintError):
    code = "invalid_location"


class TicketNotFound(ComplaintError):
    code = "not_found"
    status = 404


class IllegalTransition(ComplaintError):
    code = "illegal_transition"
    status = 409


class ReasonRequired(ComplaintError):
    code = "reason_required"


class ReopenWindowPassed(ComplaintError):
    code = "reopen_window_passed"
    status = 409


class NotRateable(ComplaintError):
    code = "not_resolved"
    status = 409


class AlreadyRated(ComplaintError):
    code = "already_rated"
    status = 409


class TooManyGuesses(ComplaintError):
    code = "rate_limited"
    status = 429


class RefundsUnavailable(ComplaintError):
    code = "refunds_unavailable"
    status = 409


class NotAFeeDispute(ComplaintError):
    code = "not_a_fee_dispute"
    status = 409


class OutOfScope(ComplaintError):
    code = "forbidden"
    status = 403
