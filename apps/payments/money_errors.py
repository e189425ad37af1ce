"""Stable error codes of pay-later charges, arrears recovery, settlement and refunds."""

from __future__ import annotations

from apps.common.errors import Conflict, DomainError, Forbidden, NotFound


class AgreementRefused(DomainError):
    code = "agreement_refused"


class AgreementExists(Conflict):
    code = "agreement_exists"


class AgreementNotActive(Conflict):
    code = "agreement_not_active"


class NotAllowed(Forbidden):
    code = "not_allowed"


class InvalidReason(DomainError):
    code = "invalid_reason"


class BlacklistNotActive(Conflict):
    code = "blacklist_not_active"


class InvalidPeriod(DomainError):
    code = "invalid_period"


class PolicyMissing(Conflict):
    code = "policy_missing"


class RefundInvalid(DomainError):
    code = "invalid_refund"


class OrderNotPaid(Conflict):
    code = "order_not_paid"


class RefundExceedsPaid(Conflict):
    code = "refund_exceeds_paid"


class RefundItemRequired(DomainError):
    code = "refund_item_required"


class RefundNotAwaiting(Conflict):
    code = "refund_not_awaiting_approval"


class SecondApproverRequired(Forbidden):
    code = "second_approver_required"


class RefundNotFound(NotFound):
    code = "not_found"
